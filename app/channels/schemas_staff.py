"""HTTP shapes of the coordinator API. Storage rows never leave the escalation package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AppointmentPublic(BaseModel):
    id: str
    escalation_id: str | None = None
    clinician_id: str
    clinician_name: str
    start: datetime
    end: datetime
    status: str


class EventPublic(BaseModel):
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    note: str | None


class EscalationPublic(BaseModel):
    id: str
    created_at: datetime
    updated_at: datetime
    patient_id: str | None
    question: str
    conversation: list[dict[str, Any]]
    passages: list[dict[str, Any]]
    confidence: float | None
    red_flag_rule: str | None
    reason: str
    priority: str
    status: str
    needs_attention: bool
    attention_reason: str | None
    appointment: AppointmentPublic | None
    events: list[EventPublic]


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=4000)


class RescheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    not_before: datetime | None = None

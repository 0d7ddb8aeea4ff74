"""HTTP and CLI shapes of a turn: the `aftercare ask` JSON contract. Kept apart from the
domain objects in ``app.conversation.turn``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.conversation.turn import EscalationRef, TurnResult


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    patient_id: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be empty or only spaces")
        return value


class SourceOut(BaseModel):
    doc_id: str
    title: str
    section: str
    version: str
    score: float
    excerpt: str


class RedFlagOut(BaseModel):
    rule: str
    priority: Literal["urgent", "emergency"]


class AppointmentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    start: datetime
    end: datetime
    with_: str = Field(alias="with")


class EscalationOut(BaseModel):
    id: str
    reason: Literal["low_confidence", "red_flag", "patient_request"]
    priority: Literal["routine", "urgent", "emergency"]
    status: str
    appointment: AppointmentOut | None

    @classmethod
    def of(cls, ref: EscalationRef) -> EscalationOut:
        appointment = ref.appointment
        return cls(
            id=ref.id,
            reason=ref.reason,
            priority=ref.priority,
            status=ref.status,
            appointment=AppointmentOut(
                id=appointment.id,
                start=appointment.start,
                end=appointment.end,
                **{"with": appointment.with_},
            )
            if appointment
            else None,
        )


class AskResponse(BaseModel):
    question: str
    outcome: Literal["answered", "escalated", "red_flag", "smalltalk"]
    answer: str
    confidence: float | None
    sources: list[SourceOut]
    red_flag: RedFlagOut | None
    escalation: EscalationOut | None
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, result: TurnResult) -> AskResponse:
        return cls(
            question=result.question,
            outcome=result.outcome,
            answer=result.answer,
            confidence=result.confidence,
            sources=[SourceOut(**vars(s)) for s in result.sources],
            red_flag=RedFlagOut(rule=result.red_flag.rule, priority=result.red_flag.priority)
            if result.red_flag
            else None,
            escalation=EscalationOut.of(result.escalation) if result.escalation else None,
            timings_ms={k: round(v, 2) for k, v in result.timings_ms.items()},
        )

"""Escalation records as the rest of the system sees them: the vocabulary (reasons,
priorities, statuses and the legal changes between them) and the immutable models
(``Escalation``, ``NewEscalation``, ``Appointment``, ``EscalationEvent``, ``Passage``).

Models are frozen pydantic objects; they never touch the database (``record_tables``
holds the tables, ``records`` the repository that turns rows into these models).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from escalation.errors import IllegalTransitionError

Reason = Literal["low_confidence", "red_flag", "patient_request"]
Priority = Literal["routine", "urgent", "emergency"]
Status = Literal["open", "acknowledged", "booked", "resolved", "cancelled"]
AppointmentStatus = Literal["booked", "cancelled"]

PRIORITY_ORDER: dict[Priority, int] = {"emergency": 0, "urgent": 1, "routine": 2}

LEGAL_TRANSITIONS: dict[Status, frozenset[Status]] = {
    "open": frozenset({"acknowledged", "booked", "resolved", "cancelled"}),
    "acknowledged": frozenset({"booked", "resolved", "cancelled"}),
    # booked -> booked is a reschedule.
    "booked": frozenset({"acknowledged", "booked", "resolved", "cancelled"}),
    "resolved": frozenset(),
    "cancelled": frozenset(),
}

SYSTEM_ACTOR = "system"
ERASED = "[erased]"


def check_transition(escalation_id: str, current: Status, target: Status) -> None:
    """Raise ``IllegalTransitionError`` unless ``current -> target`` is allowed."""
    if target not in LEGAL_TRANSITIONS[current]:
        raise IllegalTransitionError(
            f"escalation {escalation_id} is {current} and cannot become {target}"
        )


def new_id() -> str:
    return str(uuid.uuid4())


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Passage(_Model):
    """An approved passage the assistant considered (what the coordinator reads)."""

    doc_id: str
    title: str
    section: str
    version: str
    score: float
    excerpt: str


class Appointment(_Model):
    id: str
    escalation_id: str
    clinician_id: str
    clinician_name: str
    start: datetime
    end: datetime
    status: AppointmentStatus = "booked"
    external_ref: str | None = None


class EscalationEvent(_Model):
    escalation_id: str
    at: datetime
    from_status: Status | None
    to_status: Status
    actor: str
    note: str | None = None


class NewEscalation(_Model):
    patient_id: str | None
    question: str
    conversation: list[dict[str, str]] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    confidence: float | None = None
    red_flag_rule: str | None = None
    reason: Reason
    priority: Priority
    idempotency_key: str | None = None
    conversation_id: str | None = None
    """The conversation of an anonymous caller, so his repeated turns share one escalation."""


def open_key(new: NewEscalation) -> str | None:
    """What makes two escalations "the same" while the first is open; None never merges.

    The subject is the patient, else the anonymous conversation; red flags are keyed by
    their rule as well, so a different danger sign in the same conversation still escalates.
    """
    if new.patient_id is not None:
        subject = f"patient:{new.patient_id}"
    elif new.conversation_id is not None:
        subject = f"conversation:{new.conversation_id}"
    else:
        return None
    return f"{subject}|{new.reason}|{new.red_flag_rule or ''}"[:300]


# The longest conversation an escalation keeps; older repeated turns are dropped.
MAX_CONVERSATION_ENTRIES = 40


class Escalation(_Model):
    id: str
    created_at: datetime
    updated_at: datetime
    patient_id: str | None
    question: str
    conversation: list[dict[str, str]]
    passages: list[Passage]
    confidence: float | None
    red_flag_rule: str | None
    reason: Reason
    priority: Priority
    status: Status
    needs_attention: bool
    attention_reason: str | None
    idempotency_key: str | None
    appointment: Appointment | None = None
    """The appointment currently booked for it, if any."""
    conversation_id: str | None = None
    turn_count: int = 1

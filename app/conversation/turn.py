"""What one patient turn produces: the result object and the events streamed on the way."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the composers import the search stack: not for the turn's records
    from app.conversation.composers.base import Message
    from escalation.record_models import Escalation

Outcome = Literal["answered", "escalated", "red_flag", "smalltalk"]


@dataclass(frozen=True)
class SourceRef:
    doc_id: str
    title: str
    section: str
    version: str
    score: float
    excerpt: str


@dataclass(frozen=True)
class RedFlagRef:
    rule: str
    priority: Literal["urgent", "emergency"]


@dataclass(frozen=True)
class AppointmentRef:
    id: str
    start: datetime
    end: datetime
    with_: str


@dataclass(frozen=True)
class EscalationRef:
    id: str
    reason: str
    priority: str
    status: str
    appointment: AppointmentRef | None
    needs_attention: bool = False


@dataclass
class TurnResult:
    question: str
    outcome: Outcome
    answer: str
    confidence: float | None
    sources: list[SourceRef] = field(default_factory=list)
    red_flag: RedFlagRef | None = None
    escalation: EscalationRef | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    feeling: str | None = None
    """The feeling the message carried (fear, frustration, anger at the team, ...)."""


@dataclass(frozen=True)
class SentenceEvent:
    index: int
    text: str


@dataclass(frozen=True)
class SourcesEvent:
    sources: list[SourceRef]


@dataclass(frozen=True)
class RedFlagEvent:
    red_flag: RedFlagRef


@dataclass(frozen=True)
class EscalationEvent:
    escalation: EscalationRef


@dataclass(frozen=True)
class CompletedEvent:
    result: TurnResult


TurnEvent = SentenceEvent | SourcesEvent | RedFlagEvent | EscalationEvent | CompletedEvent


@dataclass
class TurnContext:
    """Who is asking and what was said before, for escalation records and composers."""

    patient_id: str | None = None
    history: Sequence[Message] = field(default_factory=tuple)
    patient_context: str | None = None
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Ties the turns of one call or session together (a platform's call id, a socket's id).
    conversation_id: str | None = None
    channel: str = "api"
    # Asked before an escalation opens; False withholds it (a newer request replaced this one).
    may_escalate: Callable[[], Awaitable[bool]] | None = None
    # Set when the patient can be texted: a booking slower than the clinic's patience is then
    # finished in the background and this is called with the finished escalation.
    follow_up: Callable[[Escalation], None] | None = None

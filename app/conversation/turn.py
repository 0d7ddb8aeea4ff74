"""What one patient turn produces: the result object and the events streamed on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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

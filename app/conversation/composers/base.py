"""The answer composer family: passages in, spoken sentences out, one at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingestion.search import Passage


@dataclass(frozen=True)
class Message:
    role: str
    text: str


@dataclass(frozen=True)
class CompositionRequest:
    question: str
    passages: Sequence[Passage]
    history: Sequence[Message] = field(default_factory=tuple)
    patient_context: str | None = None
    kind: str = "other"
    strict: bool = False
    """What kind of answer is asked for: when, how_common, normal, can_i, how_to, why, what."""


@dataclass(frozen=True)
class ComposedSentence:
    text: str
    doc_id: str | None


class CannotAnswer(Exception):
    """The composer found no grounded answer in the passages: the turn must escalate."""


class AnswerComposer(Protocol):
    name: str

    def compose(self, request: CompositionRequest) -> AsyncIterator[ComposedSentence]:
        """Sentences in speaking order; raises CannotAnswer when nothing grounded is left."""
        ...

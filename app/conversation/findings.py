"""What a turn read and found, as plain values: the reading of the message, the signals the
policy weighs, a probe's decision for calibration, the sources an answer names, and the
escalation as the turn reports it. Pure functions and data; nothing here has side effects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from app.conversation.composers.extractive import answering_documents
from app.conversation.turn import AppointmentRef, EscalationRef, SourceRef, TurnResult
from avatar_bridge.sentences import split_sentences
from escalation.danger_meaning import MeaningMatch
from escalation.record_models import Escalation
from escalation.triage import RedFlag
from escalation.understanding import Understanding, holds_kind
from ingestion.search import Passage, RetrievalSignals, SearchResult

EXCERPT_CHARS = 280
DANGER_SECTION = re.compile(
    r"when to (?:get help|call|talk|contact)|call straight away|signs? of|warning|emergenc"
    r"|urgent|thoughts of harming|counts as a fever|too much|problems",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    understanding: Understanding
    flag: RedFlag | None
    smalltalk: str | None
    person: bool
    result: SearchResult | None
    matches: list[MeaningMatch]
    danger_support: bool
    index_down: bool = False


def trace_retrieval(
    span: Span, result: SearchResult | None, flag: RedFlag | None, matches: int
) -> None:
    """Counts and scores only: never the question or a passage's words."""
    if flag is not None or result is None:
        span.update_name("danger_check")  # named as the turn's timings name it
    if flag is not None:
        span.set_attribute("aftercare.triage.priority", flag.priority)
    span.set_attribute("aftercare.danger.matches", matches)
    if result is not None:
        span.set_attributes(
            {
                "aftercare.retrieval.passages": len(result.passages),
                "aftercare.retrieval.top_score": round(result.signals.top_score, 4),
            }
        )


def traced_result(result: TurnResult) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "aftercare.turn.outcome": result.outcome,
        "aftercare.turn.sentences": len((result.answer and split_sentences(result.answer)) or ()),
    }
    if result.confidence is not None:
        attributes["aftercare.turn.confidence"] = round(result.confidence, 4)
    first = result.timings_ms.get("first_sentence")
    if first is not None:
        attributes["aftercare.turn.first_sentence_ms"] = first
    return attributes


def danger_section(result: SearchResult) -> bool:
    """Whether the guides' best passages are the ones that say when to call for help."""
    return any(DANGER_SECTION.search(f"{p.section} {p.title}") for p in result.passages[:2])


@dataclass(frozen=True)
class TurnSignals:
    """The retrieval signals plus what the turn knows of the question itself."""

    top_score: float
    best_sentence: float
    overlap: float
    margin: float
    unknown: float
    content_words: int
    kind_match: float

    @classmethod
    def of(cls, signals: RetrievalSignals, kind_match: bool) -> TurnSignals:
        return cls(
            signals.top_score,
            signals.best_sentence,
            signals.overlap,
            signals.margin,
            signals.unknown,
            signals.content_words,
            1.0 if kind_match else 0.0,
        )


@dataclass(frozen=True)
class Probe:
    """A turn's decision without its side effects: what calibration fits on."""

    red_flag: str | None
    routed: bool
    """Decided before the confidence policy: a flag, smalltalk, a person, clinician-only."""
    signals: TurnSignals | None
    answer: str | None
    """The answer the composer would speak if the policy let it, attribution included."""
    doc_ids: tuple[str, ...]
    matches: list[MeaningMatch]
    """The meaning-based danger-sign matches, before any threshold."""
    danger_support: bool


def holds_asked_kind(passages: Sequence[Passage], understanding: Understanding) -> bool:
    """Whether a document the answer may come from holds a sentence of the kind asked."""
    return any(
        holds_kind(sentence.text, understanding.kind)
        for passage in passages[:4]
        if passage.doc_id in answering_documents(passages, understanding.kind)
        for sentence in passage.sentences
    )


def escalation_ref(escalation: Escalation) -> EscalationRef:
    appointment = escalation.appointment
    return EscalationRef(
        id=escalation.id,
        reason=escalation.reason,
        priority=escalation.priority,
        status=escalation.status,
        appointment=AppointmentRef(
            appointment.id, appointment.start, appointment.end, appointment.clinician_name
        )
        if appointment
        else None,
        needs_attention=escalation.needs_attention,
    )


def sources_of(result: SearchResult, used: set[str]) -> list[SourceRef]:
    seen: set[str] = set()
    sources: list[SourceRef] = []
    for passage in result.passages:
        if passage.doc_id not in used or passage.doc_id in seen:
            continue
        seen.add(passage.doc_id)
        sources.append(
            SourceRef(
                doc_id=passage.doc_id,
                title=passage.title,
                section=passage.section,
                version=passage.version,
                score=round(passage.score, 4),
                excerpt=excerpt(passage.text),
            )
        )
    return sources


def excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return cut + " ..."

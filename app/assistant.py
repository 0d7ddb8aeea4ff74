"""The turn: one patient utterance in, spoken sentences and a result out.

triage (fixed rules) -> retrieval -> confidence policy -> compose, or escalate.
Every step is timed, and the first sentence leaves as soon as it exists. Escalations
(and their bookings) run as their own tasks: a turn cancelled by an interruption still
finishes the booking it started, and the caller can collect it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from app.composers.base import AnswerComposer, CannotAnswer, CompositionRequest, Message
from app.composers.extractive import answering_documents
from app.errors import EscalationWithheldError
from app.replies import (
    GUIDES_UNREACHABLE,
    INDEX_DOWN_ATTENTION,
    NEEDS_CHECKING_TODAY,
    NOT_CONFIDENT,
    OTHER_QUESTION,
    PERSON_REQUESTED,
    SMALLTALK,
    booking_sentences,
    urgent_follow_up,
)
from app.turn import (
    AppointmentRef,
    CompletedEvent,
    EscalationEvent,
    EscalationRef,
    Outcome,
    RedFlagEvent,
    RedFlagRef,
    SentenceEvent,
    SourceRef,
    SourcesEvent,
    TurnEvent,
    TurnResult,
)
from app.turn_log import TurnLog
from avatar_bridge.sentences import split_sentences
from avatar_bridge.speech import spoken_form
from escalation.clinic import ClinicConfig
from escalation.danger_meaning import (
    MeaningDetector,
    MeaningMatch,
    MeaningThresholds,
    clauses,
    strongest,
)
from escalation.intents import is_smalltalk, wants_person
from escalation.policy import PolicyWeights, decide
from escalation.records import Escalation, NewEscalation
from escalation.records import Passage as EscalationPassage
from escalation.scope import needs_clinician
from escalation.service import EscalationService
from escalation.triage import RedFlag, flag_for_rule, triage
from escalation.understanding import Understanding, holds_kind, understand
from ingestion.errors import IndexUnavailableError
from ingestion.search import CorpusSearch, Passage, RetrievalSignals, SearchResult

EXCERPT_CHARS = 280
NEEDS_CHECKING = "needs_checking"
_DANGER_SECTION = re.compile(
    r"when to (?:get help|call|talk|contact)|call straight away|signs? of|warning|emergenc"
    r"|urgent|thoughts of harming|counts as a fever|too much|problems",
    re.IGNORECASE,
)
log = logging.getLogger("aftercare.turn")


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


class _Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def mark(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = round((now - since) * 1000, 3)
        return now

    def first_sentence(self) -> None:
        self.timings.setdefault(
            "first_sentence", round((time.perf_counter() - self.start) * 1000, 3)
        )

    def total(self) -> dict[str, float]:
        self.timings["total"] = round((time.perf_counter() - self.start) * 1000, 3)
        return self.timings


class Assistant:
    def __init__(
        self,
        search: CorpusSearch,
        composer: AnswerComposer,
        escalations: EscalationService,
        clinic: ClinicConfig,
        threshold: float,
        weights: PolicyWeights,
        clock: Callable[[], datetime],
        turn_log: TurnLog | None = None,
        detector: MeaningDetector | None = None,
        meaning_thresholds: MeaningThresholds | None = None,
    ) -> None:
        self._detector = detector
        self._meaning = meaning_thresholds or MeaningThresholds()
        self._search = search
        self._turn_log = turn_log
        self._recording: set[asyncio.Future[str]] = set()
        self._composer = composer
        self._escalations = escalations
        self._clinic = clinic
        self._threshold = threshold
        self._weights = weights
        self._clock = clock
        self._pending: dict[str, asyncio.Task[Escalation]] = {}
        # Searches wait on the query batcher; their own pool keeps the default pool
        # (database work: bookings) from queueing behind them.
        self._search_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="search")

    async def ask(self, question: str, context: TurnContext | None = None) -> TurnResult:
        result: TurnResult | None = None
        async for event in self.turn(question, context or TurnContext()):
            if isinstance(event, CompletedEvent):
                result = event.result
        assert result is not None
        return result

    async def turn(self, question: str, context: TurnContext) -> AsyncIterator[TurnEvent]:
        timer = _Timer()
        spoken: list[str] = []

        def say(text: str) -> SentenceEvent:
            spoken.append(spoken_form(text))
            timer.first_sentence()
            return SentenceEvent(len(spoken) - 1, spoken[-1])

        def done(
            outcome: Outcome, confidence: float | None = None, **extra: object
        ) -> CompletedEvent:
            result = TurnResult(
                question=question,
                outcome=outcome,
                answer=" ".join(spoken),
                confidence=confidence,
                timings_ms=timer.total(),
                **extra,  # type: ignore[arg-type]
            )
            self._record(result, context)
            return CompletedEvent(result)

        reading = await self._read(question, timer)
        understanding, flag, result = reading.understanding, reading.flag, reading.result
        person = reading.person
        since = time.perf_counter()

        if reading.smalltalk:
            yield say(SMALLTALK[reading.smalltalk])
            yield done("smalltalk")
            return

        if flag and flag.priority != "routine":
            async for event in self._red_flag(question, flag, context, timer, say, done):
                yield event
            return

        if flag or person:
            # A routine concern hears the clinic's fixed words for it, then the booking.
            for sentence in split_sentences(flag.instruction) if flag else [PERSON_REQUESTED]:
                yield say(sentence)
            escalation = await self._escalate(
                question,
                context,
                "red_flag" if flag else "patient_request",
                "routine",
                passages=(),
                confidence=None,
                rule=flag.rule if flag else None,
                timer=timer,
            )
            ref = _escalation_ref(escalation)
            for sentence in self._booking_words(escalation):
                yield say(sentence)
            yield EscalationEvent(ref)
            yield done("escalated", escalation=ref, feeling=understanding.feeling)
            return

        if reading.index_down:
            # No guide to answer from: a person does, and the queue says why.
            yield say(GUIDES_UNREACHABLE)
            escalation = await self._escalate(
                question,
                context,
                "low_confidence",
                "routine",
                passages=(),
                confidence=None,
                rule=None,
                timer=timer,
            )
            escalation = await self._escalations.mark_attention(escalation.id, INDEX_DOWN_ATTENTION)
            ref = _escalation_ref(escalation)
            for sentence in self._booking_words(escalation):
                yield say(sentence)
            yield EscalationEvent(ref)
            yield done("escalated", escalation=ref, feeling=understanding.feeling)
            return

        assert result is not None
        kind_found = _holds_asked_kind(result.passages, understanding)
        policy = decide(TurnSignals.of(result.signals, kind_found), self._threshold, self._weights)
        clinician_only = needs_clinician(question)
        since = timer.mark("policy", since)

        if policy.decision == "answer" and clinician_only is None:
            sentences: list[tuple[str, str | None]] = []
            opening = self._acknowledgement(understanding)
            try:
                async for composed in self._composer.compose(
                    CompositionRequest(
                        understanding.focus,
                        result.passages,
                        context.history,
                        context.patient_context,
                        kind=understanding.kind,
                        strict=understanding.strict,
                    )
                ):
                    if opening and not sentences:
                        yield say(opening)
                    sentences.append((composed.text, composed.doc_id))
                    yield say(composed.text)
            except CannotAnswer:
                if spoken:
                    raise
            if sentences:
                if understanding.other_questions:
                    yield say(OTHER_QUESTION)
                timer.mark("compose", since)
                used = {doc_id for _, doc_id in sentences if doc_id}
                sources = _sources(result, used)
                yield SourcesEvent(sources)
                yield done(
                    "answered", policy.confidence, sources=sources, feeling=understanding.feeling
                )
                return

        yield say(NOT_CONFIDENT)
        escalation = await self._escalate(
            question,
            context,
            "low_confidence",
            "routine",
            passages=result.passages,
            confidence=policy.confidence,
            rule=None,
            timer=timer,
        )
        ref = _escalation_ref(escalation)
        for sentence in self._booking_words(escalation):
            yield say(sentence)
        yield EscalationEvent(ref)
        yield done("escalated", policy.confidence, escalation=ref, feeling=understanding.feeling)

    async def _read(self, question: str, timer: _Timer, use_meaning: bool = True) -> _Reading:
        """Everything the turn decides before it speaks: the fixed rules, smalltalk, a request
        for a person, then retrieval with the focused question and, in the same model pass,
        the meaning-based danger-sign check of every clause."""
        since = timer.start
        understanding = understand(question)
        flag = triage(question, self._clinic)
        smalltalk = None if flag else is_smalltalk(question)
        person = False if flag or smalltalk else wants_person(question)
        since = timer.mark("triage", since)
        result: SearchResult | None = None
        matches: list[MeaningMatch] = []
        support = False
        index_down = False
        if flag is None and smalltalk is None:
            loop = asyncio.get_running_loop()
            candidates = clauses(understanding.sentences) if self._detector else []
            if person:
                vectors = await loop.run_in_executor(
                    self._search_pool, self._search.embed, candidates
                )
            else:
                try:
                    result, vectors = await loop.run_in_executor(
                        self._search_pool, self._search.search_with, understanding.focus, candidates
                    )
                except IndexUnavailableError as exc:
                    # The danger-sign check needs only the model, never the index.
                    log.error("retrieval failed: %s", exc)
                    index_down = True
                    vectors = await loop.run_in_executor(
                        self._search_pool, self._search.embed, candidates
                    )
            if self._detector is not None and candidates:
                matches = self._detector.matches(candidates, vectors)
            support = result is not None and _danger_section(result)
            if use_meaning:
                flag = self._meaning_flag(strongest(matches, self._meaning), support)
            # A red flag's timings name no retrieval: its answer never came from the guides.
            timer.mark("retrieval" if flag is None and result else "danger_check", since)
        return _Reading(
            understanding, flag, smalltalk, person, result, matches, support, index_down
        )

    async def probe(self, question: str) -> Probe:
        """What the turn would decide and say, without booking anything (for calibration)."""
        reading = await self._read(question, _Timer(), use_meaning=False)
        result = reading.result
        seen = (reading.matches, reading.danger_support)
        if reading.flag or reading.smalltalk or reading.person or result is None:
            rule = reading.flag.rule if reading.flag else None
            return Probe(rule, True, None, None, (), *seen)
        understanding = reading.understanding
        signals = TurnSignals.of(result.signals, _holds_asked_kind(result.passages, understanding))
        if needs_clinician(question):
            return Probe(None, True, signals, None, (), *seen)
        sentences: list[tuple[str, str | None]] = []
        try:
            async for composed in self._composer.compose(
                CompositionRequest(
                    understanding.focus,
                    result.passages,
                    kind=understanding.kind,
                    strict=understanding.strict,
                )
            ):
                sentences.append((composed.text, composed.doc_id))
        except CannotAnswer:
            sentences = []
        answer = " ".join(text for text, _ in sentences) or None
        docs = tuple(dict.fromkeys(d for _, d in sentences if d))
        return Probe(None, False, signals, answer, docs, *seen)

    def _meaning_flag(
        self, meaning: tuple[str, MeaningMatch] | None, danger_support: bool
    ) -> RedFlag | None:
        """A danger sign said in other words: the rule's own instruction when the match is
        sure; when it is less sure but the guides' own danger-sign section agrees, an urgent
        'needs checking today'. Never answered as general information."""
        if meaning is None:
            return None
        level, match = meaning
        if level == "rule":
            return flag_for_rule(match.rule, self._clinic, match.clause) or self._needs_checking(
                match
            )
        return self._needs_checking(match) if danger_support else None

    def _needs_checking(self, match: MeaningMatch) -> RedFlag:
        instruction = NEEDS_CHECKING_TODAY.format_map(self._clinic.placeholders())
        return RedFlag(NEEDS_CHECKING, "urgent", instruction, match.clause)

    def _acknowledgement(self, understanding: Understanding) -> str | None:
        if understanding.feeling is None:
            return None
        return str(getattr(self._clinic.acknowledgements, understanding.feeling))

    async def _red_flag(
        self,
        question: str,
        flag: RedFlag,
        context: TurnContext,
        timer: _Timer,
        say: Callable[[str], SentenceEvent],
        done: Callable[..., CompletedEvent],
    ) -> AsyncIterator[TurnEvent]:
        # The fixed instruction goes first: the booking must never delay it.
        for sentence in split_sentences(flag.instruction):
            yield say(sentence)
        red_flag = RedFlagRef(flag.rule, flag.priority)  # type: ignore[arg-type]
        yield RedFlagEvent(red_flag)
        escalation = await self._escalate(
            question,
            context,
            "red_flag",
            flag.priority,
            passages=(),
            confidence=None,
            rule=flag.rule,
            timer=timer,
        )
        ref = _escalation_ref(escalation)
        for sentence in split_sentences(urgent_follow_up(flag.priority, self._clinic)):
            yield say(sentence)
        yield EscalationEvent(ref)
        yield done("red_flag", red_flag=red_flag, escalation=ref)

    def _record(self, result: TurnResult, context: TurnContext) -> None:
        """Store the turn off the event loop; the patient never waits for it."""
        if self._turn_log is None:
            return
        future = asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                self._turn_log.record,
                result,
                turn_id=context.turn_id,
                channel=context.channel,
                patient_id=context.patient_id,
                conversation_id=context.conversation_id,
            ),
        )
        self._recording.add(future)
        future.add_done_callback(self._recorded)

    def _recorded(self, future: asyncio.Future[str]) -> None:
        self._recording.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("a turn could not be stored: %s", type(future.exception()).__name__)

    async def _escalate(
        self,
        question: str,
        context: TurnContext,
        reason: str,
        priority: str,
        passages: Sequence[Passage],
        confidence: float | None,
        rule: str | None,
        timer: _Timer,
    ) -> Escalation:
        if context.may_escalate is not None and not await context.may_escalate():
            raise EscalationWithheldError("a newer request in this call replaced this one")
        started = time.perf_counter()
        new = NewEscalation(
            patient_id=context.patient_id,
            question=question,
            conversation=[{"role": m.role, "text": m.text} for m in context.history]
            + [{"role": "patient", "text": question}],
            passages=[
                EscalationPassage(
                    doc_id=p.doc_id,
                    title=p.title,
                    section=p.section,
                    version=p.version,
                    score=round(p.score, 4),
                    excerpt=_excerpt(p.text),
                )
                for p in passages
            ],
            confidence=confidence,
            red_flag_rule=rule,
            reason=reason,
            priority=priority,
            idempotency_key=f"turn:{context.turn_id}",
            conversation_id=context.conversation_id,
        )
        # Shielded: an interrupted turn still finishes the escalation it started.
        task = asyncio.create_task(self._escalations.open(new))
        self._pending[context.turn_id] = task
        escalation = await asyncio.shield(task)
        # Left in place when the turn is cancelled: the caller collects it with escalation_of.
        self._pending.pop(context.turn_id, None)
        timer.mark("escalation", started)
        return escalation

    def _booking_words(self, escalation: Escalation) -> list[str]:
        appointment = escalation.appointment
        return booking_sentences(
            appointment.clinician_name if appointment else None,
            appointment.start if appointment else None,
            self._clock(),
            self._clinic,
            identified=escalation.patient_id is not None,
        )

    async def escalation_of(self, turn_id: str) -> EscalationRef | None:
        """The escalation a cancelled turn had started, once it has finished booking."""
        task = self._pending.pop(turn_id, None)
        if task is None:
            return None
        return _escalation_ref(await task)

    async def close(self) -> None:
        self._search_pool.shutdown(wait=False, cancel_futures=True)
        closer = getattr(self._composer, "aclose", None)
        if closer is not None:
            await closer()

    async def drain(self) -> None:
        """Wait for escalations still being booked (used on shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)


@dataclass(frozen=True)
class _Reading:
    understanding: Understanding
    flag: RedFlag | None
    smalltalk: str | None
    person: bool
    result: SearchResult | None
    matches: list[MeaningMatch]
    danger_support: bool
    index_down: bool = False


def _danger_section(result: SearchResult) -> bool:
    """Whether the guides' best passages are the ones that say when to call for help."""
    return any(_DANGER_SECTION.search(f"{p.section} {p.title}") for p in result.passages[:2])


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


def _holds_asked_kind(passages: Sequence[Passage], understanding: Understanding) -> bool:
    """Whether a document the answer may come from holds a sentence of the kind asked."""
    return any(
        holds_kind(sentence.text, understanding.kind)
        for passage in passages[:4]
        if passage.doc_id in answering_documents(passages, understanding.kind)
        for sentence in passage.sentences
    )


def _escalation_ref(escalation: Escalation) -> EscalationRef:
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


def _sources(result: SearchResult, used: set[str]) -> list[SourceRef]:
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
                excerpt=_excerpt(passage.text),
            )
        )
    return sources


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return cut + " ..."

"""The turn: one patient utterance in, spoken sentences and a result out.

triage (fixed rules) -> retrieval -> confidence policy -> compose, or escalate.
Every step is timed, and the first sentence leaves as soon as it exists. Escalations
(and their bookings) run as their own tasks: a turn cancelled by an interruption still
finishes the booking it started, and the caller can collect it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from opentelemetry.trace import Span

from app.conversation.composers.base import (
    AnswerComposer,
    CannotAnswer,
    CompositionRequest,
)
from app.conversation.findings import (
    Probe,
    Reading,
    TurnSignals,
    danger_section,
    holds_asked_kind,
    sources_of,
    trace_retrieval,
    traced_result,
)
from app.conversation.hand_over import HandOver
from app.conversation.replies import (
    GUIDES_UNREACHABLE,
    INDEX_DOWN_ATTENTION,
    NEEDS_CHECKING_TODAY,
    NOT_CONFIDENT,
    OTHER_QUESTION,
    PERSON_REQUESTED,
    SMALLTALK,
)
from app.conversation.timing import TurnTimer
from app.conversation.turn import (
    CompletedEvent,
    EscalationEvent,
    EscalationRef,
    Outcome,
    RedFlagEvent,
    RedFlagRef,
    SentenceEvent,
    SourcesEvent,
    TurnContext,
    TurnEvent,
    TurnResult,
)
from app.conversation.turn_log import TurnLog
from app.operations.tracing import Tracing, TurnTrace
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
from escalation.scope import needs_clinician
from escalation.service import EscalationService
from escalation.triage import RedFlag, flag_for_rule, triage
from escalation.understanding import Understanding, understand
from ingestion.errors import IndexUnavailableError
from ingestion.search import CorpusSearch, Passage, SearchResult

EXCERPT_CHARS = 280
NEEDS_CHECKING = "needs_checking"


log = logging.getLogger("aftercare.turn")


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
        tracing: Tracing | None = None,
    ) -> None:
        self._tracing = tracing or Tracing.off()
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
        self._hand = HandOver(escalations, clinic, clock)
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

    async def turn(self, question: str, context: TurnContext) -> AsyncGenerator[TurnEvent]:
        trace = self._tracing.turn(context.conversation_id, context.turn_id, context.channel)
        try:
            async with contextlib.aclosing(self._turn(question, context, trace)) as events:
                async for event in events:
                    if isinstance(event, CompletedEvent) and trace.recording:
                        trace.finish(traced_result(event.result))
                    yield event
        except BaseException as exc:
            trace.fail(exc)
            raise
        finally:
            trace.end()

    async def _turn(
        self, question: str, context: TurnContext, trace: TurnTrace
    ) -> AsyncGenerator[TurnEvent, None]:
        timer = TurnTimer(trace)
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
            async for event in self._hand_over(
                question,
                context,
                timer,
                say,
                reason="red_flag" if flag else "patient_request",
                rule=flag.rule if flag else None,
                finish=lambda ref: done("escalated", escalation=ref, feeling=understanding.feeling),
            ):
                yield event
            return

        if reading.index_down:
            # No guide to answer from: a person does, and the queue says why.
            yield say(GUIDES_UNREACHABLE)
            async for event in self._hand_over(
                question,
                context,
                timer,
                say,
                reason="low_confidence",
                attention=INDEX_DOWN_ATTENTION,
                finish=lambda ref: done("escalated", escalation=ref, feeling=understanding.feeling),
            ):
                yield event
            return

        assert result is not None
        with trace.step("policy") as span:
            kind_found = holds_asked_kind(result.passages, understanding)
            signals = TurnSignals.of(result.signals, kind_found)
            policy = decide(signals, self._threshold, self._weights)
            clinician_only = needs_clinician(question, understanding.normalised)
            if span.is_recording():
                span.set_attributes(
                    {
                        "aftercare.policy.decision": policy.decision,
                        "aftercare.policy.confidence": round(policy.confidence, 4),
                        "aftercare.policy.clinician_only": clinician_only is not None,
                    }
                )
        since = timer.mark("policy", since)

        if policy.decision == "answer" and clinician_only is None:
            sentences: list[tuple[str, str | None]] = []
            opening = self._acknowledgement(understanding)
            compose_span = self._compose_span(trace)
            try:
                async for composed in trace.within(
                    compose_span,
                    self._composer.compose(
                        CompositionRequest(
                            understanding.focus,
                            result.passages,
                            context.history,
                            context.patient_context,
                            kind=understanding.kind,
                            strict=understanding.strict,
                        )
                    ),
                ):
                    if opening and not sentences:
                        yield say(opening)
                    sentences.append((composed.text, composed.doc_id))
                    yield say(composed.text)
            except CannotAnswer:
                compose_span.set_attribute("aftercare.compose.cannot_answer", True)
                if spoken:
                    raise
            finally:
                compose_span.set_attribute("aftercare.compose.sentences", len(sentences))
                compose_span.end()
            if sentences:
                if understanding.other_questions:
                    yield say(OTHER_QUESTION)
                timer.mark("compose", since)
                used = {doc_id for _, doc_id in sentences if doc_id}
                sources = sources_of(result, used)
                yield SourcesEvent(sources)
                yield done(
                    "answered", policy.confidence, sources=sources, feeling=understanding.feeling
                )
                return

        yield say(NOT_CONFIDENT)
        async for event in self._hand_over(
            question,
            context,
            timer,
            say,
            reason="low_confidence",
            passages=result.passages,
            confidence=policy.confidence,
            finish=lambda ref: done(
                "escalated", policy.confidence, escalation=ref, feeling=understanding.feeling
            ),
        ):
            yield event

    async def _read(self, question: str, timer: TurnTimer, use_meaning: bool = True) -> Reading:
        """Everything the turn decides before it speaks: the fixed rules, smalltalk, a request
        for a person, then retrieval with the focused question and, in the same model pass,
        the meaning-based danger-sign check of every clause."""
        since = timer.start
        with timer.trace.step("triage") as span:
            understanding = understand(question)
            normalised = understanding.normalised
            flag = triage(question, self._clinic, normalised=normalised)
            smalltalk = None if flag else is_smalltalk(question, normalised)
            person = False if flag or smalltalk else wants_person(question, normalised)
            if span.is_recording():
                span.set_attributes(
                    {
                        "aftercare.triage.priority": flag.priority if flag else "none",
                        "aftercare.triage.smalltalk": smalltalk is not None,
                        "aftercare.triage.person_requested": person,
                    }
                )
        since = timer.mark("triage", since)
        result: SearchResult | None = None
        matches: list[MeaningMatch] = []
        support = False
        index_down = False
        if flag is None and smalltalk is None:
            loop = asyncio.get_running_loop()
            candidates = clauses(understanding.sentences) if self._detector else []
            step = timer.trace.step("retrieval", **{"gen_ai.operation.name": "retrieval"})
            with step as span:
                if person:
                    vectors = await loop.run_in_executor(
                        self._search_pool, self._search.embed, candidates
                    )
                else:
                    try:
                        result, vectors = await loop.run_in_executor(
                            self._search_pool,
                            self._search.search_with,
                            understanding.focus,
                            candidates,
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
                support = result is not None and danger_section(result)
                if use_meaning:
                    flag = self._meaning_flag(strongest(matches, self._meaning), support)
                if span.is_recording():
                    trace_retrieval(span, result, flag, len(matches))
            # A red flag's timings name no retrieval: its answer never came from the guides.
            timer.mark("retrieval" if flag is None and result else "danger_check", since)
        return Reading(understanding, flag, smalltalk, person, result, matches, support, index_down)

    async def probe(self, question: str) -> Probe:
        """What the turn would decide and say, without booking anything (for calibration)."""
        reading = await self._read(question, TurnTimer(), use_meaning=False)
        result = reading.result
        seen = (reading.matches, reading.danger_support)
        if reading.flag or reading.smalltalk or reading.person or result is None:
            rule = reading.flag.rule if reading.flag else None
            return Probe(rule, True, None, None, (), *seen)
        understanding = reading.understanding
        signals = TurnSignals.of(result.signals, holds_asked_kind(result.passages, understanding))
        if needs_clinician(question, understanding.normalised):
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
        timer: TurnTimer,
        say: Callable[[str], SentenceEvent],
        done: Callable[..., CompletedEvent],
    ) -> AsyncIterator[TurnEvent]:
        # The fixed instruction goes first: the booking must never delay it.
        for sentence in split_sentences(flag.instruction):
            yield say(sentence)
        red_flag = RedFlagRef(flag.rule, flag.priority)  # type: ignore[arg-type]
        yield RedFlagEvent(red_flag)
        async for event in self._hand_over(
            question,
            context,
            timer,
            say,
            reason="red_flag",
            priority=flag.priority,
            rule=flag.rule,
            finish=lambda ref: done("red_flag", red_flag=red_flag, escalation=ref),
        ):
            yield event

    async def _hand_over(
        self,
        question: str,
        context: TurnContext,
        timer: TurnTimer,
        say: Callable[[str], SentenceEvent],
        *,
        reason: str,
        priority: str = "routine",
        passages: Sequence[Passage] = (),
        confidence: float | None = None,
        rule: str | None = None,
        attention: str | None = None,
        finish: Callable[[EscalationRef], CompletedEvent],
    ) -> AsyncIterator[TurnEvent]:
        """Escalate, say what happens next, report the escalation, finish the turn;
        ``attention`` flags it for a coordinator with that reason."""
        handed = await self._hand.escalate(
            question, context, reason, priority, passages, confidence, rule, timer
        )
        if attention is not None and handed.escalation is not None:
            flagged = await self._escalations.mark_attention(handed.escalation.id, attention)
            handed = dataclasses.replace(handed, escalation=flagged)
        urgent = priority if priority != "routine" else None
        for sentence in self._hand.words(handed, urgent):
            yield say(sentence)
        yield EscalationEvent(handed.ref)
        yield finish(handed.ref)

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

    def _compose_span(self, trace: TurnTrace) -> Span:
        """``chat <model>`` on the generated path (GenAI conventions), else ``compose``."""
        if not trace.recording:
            return trace.start("compose")
        name = self._composer.name
        model = getattr(self._composer, "model", None)
        if not isinstance(model, str):
            return trace.start("compose", **{"aftercare.composer": name})
        return trace.start(
            f"chat {model}",
            **{
                "aftercare.composer": name,
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
            },
        )

    async def close(self) -> None:
        self._search_pool.shutdown(wait=False, cancel_futures=True)
        closer = getattr(self._composer, "aclose", None)
        if closer is not None:
            await closer()

    async def escalation_of(self, turn_id: str) -> EscalationRef | None:
        """The escalation a cancelled turn had started, once it has finished booking."""
        return await self._hand.escalation_of(turn_id)

    async def drain(self) -> None:
        """Wait for escalations still being booked (used on shutdown)."""
        await self._hand.drain()
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

"""Handing a turn over to people: the escalation opened as its own task, and what the
patient hears about it.

An interrupted turn still finishes the escalation it started (the caller collects it with
``escalation_of``); a booking slower than the clinic's patience finishes in the background
and the patient is texted; when the database cannot take the escalation it waits in the
spool and the patient hears that his request is saved, with the safety net.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.conversation.findings import escalation_ref, excerpt
from app.conversation.replies import (
    SAVED_FOR_LATER,
    TEXT_WHEN_BOOKED,
    TEXT_WHEN_BOOKED_URGENT,
    booking_sentences,
    safety_net,
    urgent_follow_up,
)
from app.conversation.timing import TurnTimer
from app.conversation.turn import EscalationRef, TurnContext
from app.errors import EscalationWithheldError
from avatar_bridge.sentences import split_sentences
from escalation.clinic import ClinicConfig
from escalation.errors import EscalationDeferredError
from escalation.record_models import Escalation, NewEscalation
from escalation.record_models import Passage as EscalationPassage
from escalation.service import EscalationService
from ingestion.search import Passage

log = logging.getLogger("aftercare.turn")


@dataclass(frozen=True)
class Handed:
    """An escalation as the turn left it: stored (and booked, unless ``late``), or, when the
    database could not take it, only ``provisional`` (kept in the spool)."""

    escalation: Escalation | None
    late: bool = False
    provisional: NewEscalation | None = None

    @property
    def ref(self) -> EscalationRef:
        if self.escalation is not None:
            return escalation_ref(self.escalation)
        assert self.provisional is not None
        new = self.provisional
        return EscalationRef(
            id=new.idempotency_key or "spooled",
            reason=new.reason,
            priority=new.priority,
            status="saved",
            appointment=None,
            needs_attention=True,
        )


class HandOver:
    def __init__(
        self,
        escalations: EscalationService,
        clinic: ClinicConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._escalations = escalations
        self._clinic = clinic
        self._clock = clock
        self._pending: dict[str, asyncio.Task[Escalation]] = {}

    async def escalate(
        self,
        question: str,
        context: TurnContext,
        reason: str,
        priority: str,
        passages: Sequence[Passage],
        confidence: float | None,
        rule: str | None,
        timer: TurnTimer,
    ) -> Handed:
        """The escalation, and whether its booking outlasted the clinic's patience (it then
        finishes in the background and the patient is texted; the record is returned)."""
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
                    excerpt=excerpt(p.text),
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
        recorded: asyncio.Future[Escalation] = asyncio.get_running_loop().create_future()

        def note(escalation: Escalation) -> None:
            if not recorded.done():
                recorded.set_result(escalation)

        step = timer.trace.step(
            "escalation", **{"aftercare.escalation.reason": reason, "aftercare.priority": priority}
        )
        with step as span:
            # Shielded: an interrupted turn still finishes the escalation it started.
            task = asyncio.create_task(self._escalations.open(new, on_recorded=note))
            self._pending[context.turn_id] = task
            follow_up = context.follow_up
            if follow_up is None:
                try:
                    escalation = await asyncio.shield(task)
                except EscalationDeferredError:
                    self._pending.pop(context.turn_id, None)
                    timer.mark("escalation", started)
                    return Handed(None, provisional=new)
            else:
                # asyncio.wait never cancels what it waits for: the booking goes on regardless.
                await asyncio.wait({task}, timeout=self._clinic.care_team.booking_patience_s)
                if not task.done():
                    await asyncio.wait({task, recorded}, return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    turn_id = context.turn_id
                    record = recorded.result()
                    task.add_done_callback(
                        lambda done: self._booked_late(turn_id, done, record, follow_up)
                    )
                    timer.mark("escalation", started)
                    return Handed(record, late=True)
                escalation = task.result()
            if span.is_recording():
                span.set_attributes(
                    {
                        "aftercare.escalation.id": escalation.id,
                        "aftercare.escalation.booked": escalation.appointment is not None,
                        "aftercare.escalation.needs_attention": escalation.needs_attention,
                    }
                )
        # Left in place when the turn is cancelled: the caller collects it with escalation_of.
        self._pending.pop(context.turn_id, None)
        timer.mark("escalation", started)
        return Handed(escalation)

    def _booked_late(
        self,
        turn_id: str,
        task: asyncio.Task[Escalation],
        record: Escalation,
        follow_up: Callable[[Escalation], None],
    ) -> None:
        self._pending.pop(turn_id, None)
        finished = record
        if task.cancelled() or task.exception() is not None:
            # The record stays in the coordinators' queue; the promised text says they will
            # be in touch (it has no appointment to give).
            log.warning("a slow booking stopped before it finished")
        else:
            finished = task.result()
        try:
            follow_up(finished)
        except Exception as exc:
            log.error("the follow-up text could not be queued: %s", type(exc).__name__)

    def _booking_words(self, escalation: Escalation, late: bool = False) -> list[str]:
        if late:
            return [TEXT_WHEN_BOOKED, safety_net(self._clinic)]
        appointment = escalation.appointment
        return booking_sentences(
            appointment.clinician_name if appointment else None,
            appointment.start if appointment else None,
            self._clock(),
            self._clinic,
            identified=escalation.patient_id is not None,
        )

    def words(self, handed: Handed, urgent: str | None = None) -> list[str]:
        """What the patient hears after the hand-over: after an urgent instruction
        (``urgent`` is its priority) that the team knows and will not call at once; else
        the booking, or that a text will follow, or that his request is saved."""
        if urgent is not None:
            spoken = split_sentences(urgent_follow_up(urgent, self._clinic))
            if handed.late:
                spoken.append(TEXT_WHEN_BOOKED_URGENT)
            if handed.escalation is None:
                spoken.append(SAVED_FOR_LATER)
            return spoken
        if handed.escalation is None:
            return [SAVED_FOR_LATER, safety_net(self._clinic)]
        if handed.late:
            return [TEXT_WHEN_BOOKED, safety_net(self._clinic)]
        appointment = handed.escalation.appointment
        return booking_sentences(
            appointment.clinician_name if appointment else None,
            appointment.start if appointment else None,
            self._clock(),
            self._clinic,
            identified=handed.escalation.patient_id is not None,
        )

    async def escalation_of(self, turn_id: str) -> EscalationRef | None:
        """The escalation a cancelled turn had started, once it has finished booking."""
        task = self._pending.pop(turn_id, None)
        if task is None:
            return None
        return escalation_ref(await task)

    async def drain(self) -> None:
        """Wait for escalations still being booked (used on shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

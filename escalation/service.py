"""Escalations end to end: record, book, tell the coordinators, and what staff do next.

An escalation is never dropped: when no slot is free, when the appointment system fails,
or when telling the coordinators fails, it stays open with ``needs_attention`` and a reason
a coordinator can act on.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import InterfaceError, OperationalError

from escalation.errors import EscalationDeferredError, EscalationError
from escalation.record_models import (
    SYSTEM_ACTOR,
    Appointment,
    Escalation,
    EscalationEvent,
    NewEscalation,
    Priority,
    Status,
    check_transition,
)
from escalation.records import EscalationRepository
from escalation.scheduling import BookingRequest, Scheduler
from escalation.spool import EscalationSpool

log = logging.getLogger(__name__)

EMERGENCY_REASON = "emergency: patient told to call the emergency services; follow up"
NO_SAME_DAY_REASON = "no same-day slot: call back"
SCHEDULER_FAILED_REASON = "appointment system unavailable: book by hand"
ALERT_FAILED_REASON = "coordinator notification failed"
CALLBACK_REASON = "callback request from an unidentified caller: no slot booked"
CREATED_EVENT = "escalation.created"


@dataclass
class Recovery:
    """What ``EscalationService.recover`` did: counts only."""

    linked: int = 0
    released: int = 0
    booked: int = 0
    flagged: int = 0
    alerted: int = 0
    replayed: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (self.linked, self.released, self.booked, self.flagged, self.alerted, self.replayed)
        )


def no_slot_reason(horizon_days: int) -> str:
    return f"no free slot within {horizon_days} days"


class CoordinatorAlerts(Protocol):
    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        """Store the alert durably for delivery; returns fast."""
        ...


def alert_payload(escalation: Escalation) -> dict[str, Any]:
    """Everything a coordinator needs about an escalation, as JSON-ready values."""
    return escalation.model_dump(mode="json")


class EscalationService:
    """Opens escalations and carries out staff actions on them. Safe under concurrency."""

    def __init__(
        self,
        repository: EscalationRepository,
        scheduler: Scheduler,
        alerts: CoordinatorAlerts,
        clock: Callable[[], datetime],
        *,
        horizon_days: int = 28,
        spool: EscalationSpool | None = None,
    ) -> None:
        self._spool = spool
        self._repository = repository
        self._scheduler = scheduler
        self._alerts = alerts
        self._clock = clock
        self._horizon_days = horizon_days

    @property
    def booking_reasons(self) -> tuple[str, ...]:
        """Attention reasons that a successful booking settles."""
        return (
            no_slot_reason(self._horizon_days),
            NO_SAME_DAY_REASON,
            SCHEDULER_FAILED_REASON,
        )

    async def open(
        self, new: NewEscalation, on_recorded: Callable[[Escalation], None] | None = None
    ) -> Escalation:
        """Record the escalation, book it when its priority allows, alert the coordinators.

        Idempotent on ``new.idempotency_key``: a retry returns the stored escalation (and
        finishes the booking if the first attempt stopped before it). Within one call
        (``new.conversation_id``) the key is the call, the reason and the red-flag rule: a
        platform's retry or a partial transcript of the same concern books nothing new; a
        different danger sign still escalates. A later turn of the same patient (or
        anonymous conversation), reason and danger sign while one is open is added to it.

        ``on_recorded`` is called with the stored escalation before booking starts, so a
        caller that cannot wait for a slow booking still has the record to report.
        """
        try:
            return await self._open(new, on_recorded)
        except (OperationalError, InterfaceError) as exc:
            if self._spool is None:
                raise
            await asyncio.to_thread(self._spool.put, new)
            log.error("database unavailable, escalation spooled: %s", type(exc).__name__)
            raise EscalationDeferredError("the escalation waits in the spool") from exc

    async def _open(
        self, new: NewEscalation, on_recorded: Callable[[Escalation], None] | None = None
    ) -> Escalation:
        escalation, created = await asyncio.to_thread(self._repository.create, new)
        if on_recorded is not None:
            on_recorded(escalation)
        retry = escalation.idempotency_key is not None and (
            escalation.idempotency_key == new.idempotency_key
        )
        if not created and not (retry and self._unfinished(escalation)):
            return escalation
        escalation = await self._book_new(escalation)
        return await self._alert(escalation, CREATED_EVENT)

    async def get(self, escalation_id: str) -> Escalation:
        return await asyncio.to_thread(self._repository.get, escalation_id)

    async def history(self, escalation_id: str) -> builtins.list[EscalationEvent]:
        return await asyncio.to_thread(self._repository.events, escalation_id)

    async def acknowledge(self, escalation_id: str, actor: str) -> Escalation:
        escalation = await asyncio.to_thread(
            self._repository.transition, escalation_id, "acknowledged", actor, None
        )
        return await self._alert(escalation, "escalation.acknowledged")

    async def resolve(self, escalation_id: str, actor: str, note: str | None = None) -> Escalation:
        escalation = await asyncio.to_thread(
            self._repository.transition, escalation_id, "resolved", actor, note
        )
        return await self._alert(escalation, "escalation.resolved")

    async def cancel(self, escalation_id: str, actor: str, note: str | None = None) -> Escalation:
        """Cancel the escalation and free its appointment's slot."""
        escalation = await asyncio.to_thread(
            self._repository.transition, escalation_id, "cancelled", actor, note
        )
        if escalation.appointment is not None:
            await self._cancel_appointment(escalation.appointment)
            escalation = await self.get(escalation_id)
        return await self._alert(escalation, "escalation.cancelled")

    async def reschedule(
        self, escalation_id: str, actor: str, not_before: datetime | None = None
    ) -> Escalation:
        """Book a new appointment (from ``not_before`` on), then cancel the old one.

        The new slot is taken before the old one is freed, so the patient never ends up
        with neither; with no free slot the old appointment stays and the escalation is
        flagged for attention. Scheduler failures are raised to the staff caller.
        An emergency escalation is rebooked with urgent rules (a staff follow-up).
        """
        escalation = await self.get(escalation_id)
        check_transition(escalation_id, escalation.status, "booked")
        old = escalation.appointment
        attempts = await asyncio.to_thread(self._repository.appointments_of, escalation_id)
        priority: Priority = "urgent" if escalation.priority == "emergency" else escalation.priority
        request = BookingRequest(
            escalation_id=escalation_id,
            patient_id=escalation.patient_id,
            priority=priority,
            idempotency_key=f"{escalation_id}:booking:{len(attempts)}",
            not_before=not_before or self._clock(),
            description=_description(escalation),
        )
        appointment = await self._scheduler.book(request)
        if appointment is None:
            reason = self._no_slot(priority)
            escalation = await asyncio.to_thread(
                self._repository.mark_attention, escalation_id, f"reschedule: {reason}", actor
            )
            return await self._alert(escalation, "escalation.attention")
        escalation = await asyncio.to_thread(
            self._repository.record_booking,
            escalation_id,
            appointment,
            actor,
            "rescheduled" if old is not None else "booked",
            (*self.booking_reasons, *(f"reschedule: {r}" for r in self.booking_reasons)),
        )
        if old is not None and old.id != appointment.id:
            await self._cancel_appointment(old)
            escalation = await self.get(escalation_id)
        return await self._alert(escalation, "escalation.rescheduled")

    async def mark_attention(self, escalation_id: str, reason: str) -> Escalation:
        """Flag for a coordinator (e.g. by notifications when delivery fails).

        Sends no alert: the caller is usually the alert delivery itself.
        """
        return await asyncio.to_thread(self._repository.mark_attention, escalation_id, reason)

    async def list_appointments(self, start: datetime, end: datetime) -> builtins.list[Appointment]:
        return await self._scheduler.list_appointments(start, end)

    async def list(
        self,
        status: Status | None = None,
        priority: Priority | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[Escalation]:
        """Emergency, then urgent, then routine; oldest first within each (one page)."""
        return await asyncio.to_thread(self._repository.list, status, priority, limit, offset)

    async def of_patient(self, patient_id: str) -> builtins.list[Escalation]:
        return await asyncio.to_thread(self._repository.of_patient, patient_id)

    async def erase_texts(
        self, *, patient_id: str | None = None, before: datetime | None = None
    ) -> builtins.list[str]:
        return await asyncio.to_thread(
            self._repository.erase_texts, patient_id=patient_id, before=before
        )

    # internals

    def _unfinished(self, escalation: Escalation) -> bool:
        """A stored escalation whose first attempt stopped before booking was tried."""
        return (
            escalation.status == "open"
            and escalation.appointment is None
            and not escalation.needs_attention
        )

    def _no_slot(self, priority: Priority) -> str:
        return NO_SAME_DAY_REASON if priority == "urgent" else no_slot_reason(self._horizon_days)

    async def _book_new(self, escalation: Escalation) -> Escalation:
        if escalation.priority == "emergency":
            return await asyncio.to_thread(
                self._repository.mark_attention, escalation.id, EMERGENCY_REASON
            )
        if escalation.patient_id is None:
            # Nobody to book for: anyone can claim to be anyone, and bookings are scarce.
            return await asyncio.to_thread(
                self._repository.mark_attention, escalation.id, CALLBACK_REASON
            )
        request = BookingRequest(
            escalation_id=escalation.id,
            patient_id=escalation.patient_id,
            priority=escalation.priority,
            idempotency_key=f"{escalation.id}:booking:0",
            not_before=self._clock(),
            description=_description(escalation),
        )
        try:
            appointment = await self._scheduler.book(request)
        except Exception as exc:  # never lose the escalation, whatever the scheduler did
            log.warning("booking failed for escalation %s: %s", escalation.id, type(exc).__name__)
            return await asyncio.to_thread(
                self._repository.mark_attention, escalation.id, SCHEDULER_FAILED_REASON
            )
        if appointment is None:
            return await asyncio.to_thread(
                self._repository.mark_attention, escalation.id, self._no_slot(escalation.priority)
            )
        return await asyncio.to_thread(
            self._repository.record_booking,
            escalation.id,
            appointment,
            SYSTEM_ACTOR,
            f"booked with {appointment.clinician_name}",
        )

    async def _cancel_appointment(self, appointment: Appointment) -> None:
        try:
            await self._scheduler.cancel(appointment.id)
        except EscalationError:
            await asyncio.to_thread(
                self._repository.mark_attention,
                appointment.escalation_id,
                f"appointment {appointment.id} could not be cancelled: cancel it by hand",
            )
            raise
        await asyncio.to_thread(self._repository.mark_appointment_cancelled, appointment.id)

    async def _alert(self, escalation: Escalation, event: str) -> Escalation:
        try:
            self._alerts.enqueue(escalation.id, event, alert_payload(escalation))
        except Exception as exc:  # the record stays; a coordinator sees it in the list
            log.error(
                "could not queue %s for escalation %s: %s", event, escalation.id, type(exc).__name__
            )
            return await asyncio.to_thread(
                self._repository.mark_attention, escalation.id, ALERT_FAILED_REASON
            )
        if event == CREATED_EVENT:
            await asyncio.to_thread(self._repository.mark_alerted, escalation.id)
        return escalation

    async def recover(self, older_than: datetime) -> Recovery:
        """Finish what a crash interrupted, for work started before ``older_than``.

        An escalation, its booking and its alert are one unit: a booked appointment its
        escalation does not point to is linked to it when the escalation still waits for
        one, else released (no slot is held without its escalation); an escalation whose
        alert was never queued is booked or flagged with the reason if it still needs
        that, then alerted (the outbox queues a "created" alert once only). Safe to run
        from several processes and again at any time.
        """
        report = Recovery()
        await self._replay_spool(report)
        for appointment, status, unlinked in await asyncio.to_thread(
            self._repository.stray_appointments, older_than
        ):
            if unlinked and status in ("open", "acknowledged"):
                await asyncio.to_thread(
                    self._repository.record_booking,
                    appointment.escalation_id,
                    appointment,
                    SYSTEM_ACTOR,
                    f"booked with {appointment.clinician_name} (recovered after an interruption)",
                    self.booking_reasons,
                )
                report.linked += 1
            else:
                await self._scheduler.cancel(appointment.id)
                await asyncio.to_thread(self._repository.mark_appointment_cancelled, appointment.id)
                report.released += 1
        for escalation in await asyncio.to_thread(self._repository.unalerted, older_than):
            if self._unfinished(escalation):
                escalation = await self._book_new(escalation)
                if escalation.appointment is not None:
                    report.booked += 1
                else:
                    report.flagged += 1
            await self._alert(escalation, CREATED_EVENT)
            report.alerted += 1
        if report.changed:
            log.warning("recovered interrupted escalations: %s", report)
        return report

    async def _replay_spool(self, report: Recovery) -> None:
        """Open what the database could not take during a turn, oldest first."""
        spool = self._spool
        if spool is None:
            return
        for path, new in await asyncio.to_thread(lambda: list(spool.pending())):
            try:
                await self._open(new)
            except (OperationalError, InterfaceError):
                return  # still down: the next recovery pass tries again
            await asyncio.to_thread(spool.done, path)
            report.replayed += 1


def _description(escalation: Escalation) -> str:
    rule = f", {escalation.red_flag_rule}" if escalation.red_flag_rule else ""
    return f"Aftercare escalation ({escalation.priority}, {escalation.reason}{rule})"

"""Appointment booking: the ``Scheduler`` protocol, the pure slot choice, the built-in book.

Slot choice (``choose_slot``) is one pure function shared by every scheduler:

- routine: the earliest free slot starting at least an hour from now;
- urgent: the earliest free slot later today in the clinic's time zone; none means the
  patient needs a call-back (with ``urgent_same_day: false`` in the clinic file: the
  earliest free slot from now on);
- emergency: never booked: the patient is told to call the emergency services and the
  coordinators are alerted.

``BuiltinScheduler`` keeps the appointment book in the deployment's database. The care
team's weekly hours and closures are copied from the clinic file into the ``availability``
and ``clinic_closures`` tables on start (rows an operator added are kept), and slots are
generated from those tables. Two bookings never take the same slot: each insert relies on
the UNIQUE ``slot_key`` of ``appointments`` and moves on to the next free slot when another
booking won it, whichever thread or process that was.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, Protocol, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from escalation.clinic import CareTeam, Closure, Weekday
from escalation.errors import EscalationError, UnknownAppointmentError
from escalation.record_models import Appointment, Priority, new_id
from escalation.record_tables import (
    AppointmentRow,
    AvailabilityRow,
    ClosureRow,
    appointment_from_row,
    slot_key,
)

log = logging.getLogger(__name__)

_SYNC_LOCK = 0x41667431  # the advisory lock serialising availability syncs on PostgreSQL

ROUTINE_LEAD = timedelta(hours=1)
"""Routine appointments start at least this long after the escalation."""

WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


class Slot(NamedTuple):
    """A bookable time with one clinician. ``ref`` is the external system's slot id."""

    clinician_id: str
    clinician_name: str
    start: datetime
    end: datetime
    ref: str | None = None

    @property
    def key(self) -> str:
        return slot_key(self.clinician_id, self.start)


@dataclass(frozen=True)
class BookingRequest:
    escalation_id: str
    patient_id: str | None
    priority: Priority
    idempotency_key: str
    not_before: datetime
    description: str = ""
    """A short, non-identifying reason for the appointment system (no patient words)."""


@dataclass(frozen=True)
class AvailabilityWindow:
    """One weekly window of one clinician, in the clinic's time zone."""

    id: int
    clinician_id: str
    clinician_name: str
    role: str
    day: Weekday
    start: time
    end: time
    source: str


class Scheduler(Protocol):
    async def book(self, request: BookingRequest) -> Appointment | None:
        """Book the slot ``choose_slot`` picks; None when there is no free slot for it.

        The same ``idempotency_key`` returns the same appointment and books nothing new.
        """
        ...

    async def cancel(self, appointment_id: str) -> None: ...

    async def list_appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        """Booked appointments starting in ``[start, end)``, earliest first."""
        ...


# --- pure decisions -------------------------------------------------------------------


def search_window(
    priority: Priority,
    now: datetime,
    care_team: CareTeam,
    not_before: datetime | None = None,
) -> tuple[datetime, datetime] | None:
    """The ``[earliest, latest)`` starts a slot may have for ``priority``; None: no booking."""
    horizon_end = now + timedelta(days=care_team.booking_horizon_days)
    if priority == "emergency":
        return None
    if priority == "routine":
        earliest = now + ROUTINE_LEAD
        latest = horizon_end
    else:
        earliest = now
        latest = horizon_end
    if not_before is not None and not_before > earliest:
        earliest = not_before
    if priority == "urgent" and care_team.urgent_same_day:
        tz = ZoneInfo(care_team.timezone)
        day = earliest.astimezone(tz).date()
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        latest = min(horizon_end, midnight.astimezone(UTC))
    if earliest >= latest:
        return None
    return earliest, latest


def choose_slot(
    free_slots: Iterable[Slot],
    priority: Priority,
    now: datetime,
    care_team: CareTeam,
    not_before: datetime | None = None,
) -> Slot | None:
    """The slot to book from ``free_slots`` (the first of equally early ones), or None."""
    window = search_window(priority, now, care_team, not_before)
    if window is None:
        return None
    earliest, latest = window
    best: Slot | None = None
    for slot in free_slots:
        if earliest <= slot.start < latest and (best is None or slot.start < best.start):
            best = slot
    return best


def generate_slots(
    windows: Sequence[AvailabilityWindow],
    closures: Sequence[Closure],
    care_team: CareTeam,
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """Every slot of the weekly windows starting in ``[start, end)``, earliest first.

    Wall-clock times in the clinic's time zone, so a 9:00 window stays 9:00 across a
    daylight-saving change. Closed days have no slots.
    """
    tz = ZoneInfo(care_team.timezone)
    length = timedelta(minutes=care_team.appointment_minutes)
    by_day: dict[int, list[tuple[int, AvailabilityWindow]]] = {}
    for rank, window in enumerate(windows):
        by_day.setdefault(WEEKDAYS.index(window.day), []).append((rank, window))
    first = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    closed = _closed_days(closures, first, last)
    found: list[tuple[datetime, int, Slot]] = []
    day = first
    while day <= last:
        if day not in closed:
            for rank, window in by_day.get(day.weekday(), ()):
                local = datetime.combine(day, window.start, tzinfo=tz)
                stop = datetime.combine(day, window.end, tzinfo=tz)
                count = (stop - local) // length  # wall-clock difference (same tzinfo)
                if local.utcoffset() == stop.utcoffset():
                    # No clock change inside the window: step in UTC (fast path).
                    first_utc = local.astimezone(UTC)
                    starts = [first_utc + n * length for n in range(count)]
                    ends = [begins + length for begins in starts]
                else:
                    starts = [(local + n * length).astimezone(UTC) for n in range(count)]
                    ends = [(local + (n + 1) * length).astimezone(UTC) for n in range(count)]
                who, name = window.clinician_id, window.clinician_name
                found.extend(
                    (begins, rank, Slot(who, name, begins, finish))
                    for begins, finish in zip(starts, ends, strict=True)
                    if start <= begins < end
                )
        day += timedelta(days=1)
    found.sort(key=lambda item: (item[0], item[1]))
    return [slot for _, _, slot in found]


def _clinic_days(
    start: datetime, end: datetime, tz: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """``[start, end)`` cut at the clinic's midnights, in order."""
    cursor = start
    while cursor < end:
        day = cursor.astimezone(tz).date() + timedelta(days=1)
        midnight = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        upto = min(midnight, end)
        yield cursor, upto
        cursor = upto


def _closed_days(closures: Sequence[Closure], first: date, last: date) -> set[date]:
    closed: set[date] = set()
    for closure in closures:
        day = max(closure.start, first)
        while day <= min(closure.end, last):
            closed.add(day)
            day += timedelta(days=1)
    return closed


# --- the built-in appointment book ----------------------------------------------------


class BuiltinScheduler:
    """The appointment book in the deployment's own database. Database work runs in a thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        care_team: CareTeam,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._care_team = care_team
        self._clock = clock
        self._synced = False
        self._sync_lock = threading.Lock()

    # availability

    def sync_availability(self) -> None:
        """Replace the rows copied from the clinic file with its current care team.

        Called on start (and before the first booking if it was not). Rows whose source
        is ``operator`` are left alone.
        """
        with self._sync_lock:
            for attempt in range(2):
                try:
                    self._replace_config_rows()
                    break
                except IntegrityError:
                    # Another process synced at the same moment; its rows are the same.
                    if attempt:
                        raise
            self._synced = True

    def _replace_config_rows(self) -> None:
        with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Processes starting together replace the rows one after the other: under
                # READ COMMITTED, two interleaved delete-then-insert runs clash or deadlock.
                session.execute(text(f"SELECT pg_advisory_xact_lock({_SYNC_LOCK})"))
            session.execute(delete(AvailabilityRow).where(AvailabilityRow.source == "config"))
            session.execute(delete(ClosureRow).where(ClosureRow.source == "config"))
            position = 0
            for clinician in self._care_team.clinicians:
                for hours in clinician.hours:
                    session.add(
                        AvailabilityRow(
                            clinician_id=clinician.id,
                            clinician_name=clinician.name,
                            role=clinician.role,
                            weekday=WEEKDAYS.index(hours.day),
                            start_time=hours.start,
                            end_time=hours.end,
                            position=position,
                            source="config",
                        )
                    )
                    position += 1
            for closure in self._care_team.closures:
                session.add(
                    ClosureRow(
                        start_date=closure.start,
                        end_date=closure.end,
                        reason=closure.reason,
                        source="config",
                    )
                )
            session.commit()

    def availability(self) -> list[AvailabilityWindow]:
        """The weekly windows slots are generated from, in booking preference order."""
        self._ensure_synced()
        with self._sessions() as session:
            return self._windows(session)

    def add_availability(
        self,
        clinician_id: str,
        clinician_name: str,
        day: Weekday,
        start: time,
        end: time,
        role: str = "",
    ) -> AvailabilityWindow:
        """An operator's extra window; kept across restarts."""
        if end <= start:
            raise EscalationError("an availability window must end after it starts")
        self._ensure_synced()
        with self._sessions() as session:
            row = AvailabilityRow(
                clinician_id=clinician_id,
                clinician_name=clinician_name,
                role=role,
                weekday=WEEKDAYS.index(day),
                start_time=start,
                end_time=end,
                position=1_000_000,
                source="operator",
            )
            session.add(row)
            session.commit()
            return _window(row)

    def remove_availability(self, window_id: int) -> None:
        """Remove a window (a clinic-file window comes back on the next start)."""
        with self._sessions() as session:
            session.execute(delete(AvailabilityRow).where(AvailabilityRow.id == window_id))
            session.commit()

    def free_slots(self, start: datetime, end: datetime) -> list[Slot]:
        """Unbooked slots starting in ``[start, end)``, earliest first."""
        self._ensure_synced()
        with self._sessions() as session:
            return self._free_slots(session, start, end)

    def _free_slots(self, session: Session, start: datetime, end: datetime) -> list[Slot]:
        windows, closures, taken = self._book_state(session, start, end)
        slots = generate_slots(windows, closures, self._care_team, start, end)
        return [slot for slot in slots if (slot.clinician_id, slot.start) not in taken]

    def _book_state(
        self, session: Session, start: datetime, end: datetime
    ) -> tuple[list[AvailabilityWindow], list[Closure], set[tuple[str, datetime]]]:
        """Windows, closures and the (clinician, start) pairs booked in ``[start, end)``."""
        windows = self._windows(session)
        closures = [
            Closure(start=r.start_date, end=r.end_date, reason=r.reason)
            for r in session.execute(select(ClosureRow)).scalars()
        ]
        taken = {
            (clinician_id, begins)
            for clinician_id, begins in session.execute(
                select(AppointmentRow.clinician_id, AppointmentRow.start).where(
                    AppointmentRow.slot_key.is_not(None),
                    AppointmentRow.start >= start,
                    AppointmentRow.start < end,
                )
            ).tuples()
        }
        return windows, closures, taken

    # the Scheduler protocol

    async def book(self, request: BookingRequest) -> Appointment | None:
        return await asyncio.to_thread(self.book_now, request)

    async def cancel(self, appointment_id: str) -> None:
        await asyncio.to_thread(self.cancel_now, appointment_id)

    async def list_appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        return await asyncio.to_thread(self.appointments_between, start, end)

    # the same, synchronously

    def book_now(self, request: BookingRequest) -> Appointment | None:
        self._ensure_synced()
        now = self._clock()
        window = search_window(request.priority, now, self._care_team, request.not_before)
        with self._sessions() as session:
            existing = self._by_key(session, request.idempotency_key)
            if existing is not None:
                return existing
            if window is None:
                return None
            windows, closures, taken = self._book_state(session, *window)
        # Day by day: the earliest free slot is in the first day that has one, so a
        # booking usually generates one day of slots rather than the whole horizon.
        for day_start, day_end in _clinic_days(*window, ZoneInfo(self._care_team.timezone)):
            day = generate_slots(windows, closures, self._care_team, day_start, day_end)
            free = [slot for slot in day if (slot.clinician_id, slot.start) not in taken]
            while True:
                slot = choose_slot(free, request.priority, now, self._care_team, request.not_before)
                if slot is None:
                    break
                appointment = self._insert(request, slot)
                if appointment is not None:
                    return appointment
                with self._sessions() as session:
                    existing = self._by_key(session, request.idempotency_key)
                if existing is not None:
                    return existing
                # Another booking took this slot first: try the next one.
                free.remove(slot)
        return None

    def cancel_now(self, appointment_id: str) -> None:
        with self._sessions() as session:
            if session.get(AppointmentRow, appointment_id) is None:
                raise UnknownAppointmentError(f"there is no appointment {appointment_id}")
            session.execute(
                update(AppointmentRow)
                .where(AppointmentRow.id == appointment_id)
                .values(status="cancelled", slot_key=None)
            )
            session.commit()

    def appointments_between(self, start: datetime, end: datetime) -> list[Appointment]:
        with self._sessions() as session:
            rows = session.execute(
                select(AppointmentRow)
                .where(
                    AppointmentRow.status == "booked",
                    AppointmentRow.start >= start,
                    AppointmentRow.start < end,
                )
                .order_by(AppointmentRow.start, AppointmentRow.clinician_id)
            ).scalars()
            return [appointment_from_row(r) for r in rows]

    # internals

    def _ensure_synced(self) -> None:
        if not self._synced:
            self.sync_availability()

    def _windows(self, session: Session) -> list[AvailabilityWindow]:
        rows = session.execute(
            select(AvailabilityRow).order_by(AvailabilityRow.position, AvailabilityRow.id)
        ).scalars()
        return [_window(r) for r in rows]

    @staticmethod
    def _by_key(session: Session, idempotency_key: str) -> Appointment | None:
        row = session.execute(
            select(AppointmentRow).where(AppointmentRow.idempotency_key == idempotency_key)
        ).scalar_one_or_none()
        return appointment_from_row(row) if row is not None else None

    def _insert(self, request: BookingRequest, slot: Slot) -> Appointment | None:
        """Store the booking; None when the slot (or the key) was taken meanwhile."""
        row = AppointmentRow(
            id=new_id(),
            escalation_id=request.escalation_id,
            clinician_id=slot.clinician_id,
            clinician_name=slot.clinician_name,
            start=slot.start,
            end=slot.end,
            status="booked",
            external_ref=None,
            slot_key=slot.key,
            idempotency_key=request.idempotency_key,
            created_at=self._clock(),
        )
        try:
            with self._sessions() as session:
                session.add(row)
                session.commit()
        except IntegrityError:
            if not self._taken(slot.key, request.idempotency_key):
                raise  # not a race for the slot: a real fault (e.g. unknown escalation)
            return None
        return appointment_from_row(row)

    def _taken(self, key: str, idempotency_key: str) -> bool:
        with self._sessions() as session:
            found = session.execute(
                select(AppointmentRow.id).where(
                    (AppointmentRow.slot_key == key)
                    | (AppointmentRow.idempotency_key == idempotency_key)
                )
            ).first()
            return found is not None


def _window(row: AvailabilityRow) -> AvailabilityWindow:
    return AvailabilityWindow(
        id=row.id,
        clinician_id=row.clinician_id,
        clinician_name=row.clinician_name,
        role=row.role,
        day=WEEKDAYS[row.weekday],
        start=row.start_time,
        end=row.end_time,
        source=row.source,
    )

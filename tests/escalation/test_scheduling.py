"""Slot choice (pure) and the built-in appointment book on a real SQLite database."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from escalation.clinic import CareTeam, Clinician, Closure, WorkingHours, load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import UnknownAppointmentError
from escalation.record_models import new_id
from escalation.record_tables import AppointmentRow, AvailabilityRow, EscalationRow
from escalation.scheduling import (
    AvailabilityWindow,
    BookingRequest,
    BuiltinScheduler,
    Slot,
    choose_slot,
    generate_slots,
    search_window,
)

LONDON = ZoneInfo("Europe/London")
MONDAY_7AM = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 07:00 in London (GMT)
DEFAULT_TEAM = load_clinic_config().care_team


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A London wall-clock time in 2026, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def slot(start: datetime, who: str = "nurse-patel") -> Slot:
    return Slot(who, who, start, start + timedelta(minutes=20))


class Clock:
    def __init__(self, now: datetime = MONDAY_7AM) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# --- choose_slot ----------------------------------------------------------------------


def test_routine_takes_the_earliest_slot_at_least_an_hour_away() -> None:
    now = at(2, 9, 0)
    free = [slot(at(3, 9)), slot(at(2, 9, 40)), slot(at(2, 10, 0)), slot(at(2, 10, 0), "b")]
    assert choose_slot(free, "routine", now, DEFAULT_TEAM) == slot(at(2, 10, 0))
    assert choose_slot([slot(at(2, 9, 59))], "routine", now, DEFAULT_TEAM) is None
    late = slot(now + timedelta(days=DEFAULT_TEAM.booking_horizon_days, minutes=1))
    assert choose_slot([late], "routine", now, DEFAULT_TEAM) is None


def test_urgent_takes_the_earliest_slot_today_or_none() -> None:
    now = at(2, 15, 0)
    today = [slot(at(2, 14, 40)), slot(at(2, 16, 40)), slot(at(2, 15, 20))]
    assert choose_slot(today, "urgent", now, DEFAULT_TEAM) == slot(at(2, 15, 20))
    tomorrow = [slot(at(3, 8, 0))]
    assert choose_slot(tomorrow, "urgent", now, DEFAULT_TEAM) is None
    any_day = DEFAULT_TEAM.model_copy(update={"urgent_same_day": False})
    assert choose_slot(tomorrow, "urgent", now, any_day) == slot(at(3, 8, 0))


def test_urgent_same_day_follows_the_clinic_time_zone() -> None:
    # 23:30 UTC on 1 July is 00:30 on 2 July in London: "today" is 2 July there.
    now = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    assert choose_slot([slot(at(2, 9, month=7))], "urgent", now, DEFAULT_TEAM) is not None
    assert choose_slot([slot(at(3, 9, month=7))], "urgent", now, DEFAULT_TEAM) is None


def test_emergency_is_never_booked() -> None:
    assert choose_slot([slot(at(2, 9))], "emergency", at(2, 7), DEFAULT_TEAM) is None
    assert search_window("emergency", at(2, 7), DEFAULT_TEAM) is None


def test_not_before_moves_the_earliest_start() -> None:
    free = [slot(at(2, 9)), slot(at(4, 9)), slot(at(5, 9))]
    assert choose_slot(free, "routine", at(2, 7), DEFAULT_TEAM, at(4, 10)) == slot(at(5, 9))
    assert choose_slot(free, "urgent", at(2, 7), DEFAULT_TEAM, at(4, 8)) == slot(at(4, 9))


# --- generate_slots -------------------------------------------------------------------


def window(day: str, start: str, end: str, who: str = "nurse-patel") -> AvailabilityWindow:
    return AvailabilityWindow(
        0,
        who,
        who,
        "",
        day,  # type: ignore[arg-type]
        time.fromisoformat(start),
        time.fromisoformat(end),
        "config",
    )


def test_slots_follow_wall_clock_hours_across_daylight_saving() -> None:
    # London moves to BST on Sunday 29 March 2026.
    windows = [window("fri", "09:00", "10:00"), window("mon", "09:00", "10:00")]
    slots = generate_slots(windows, [], DEFAULT_TEAM, at(27, 0), at(31, 0))
    assert [s.start for s in slots] == [
        at(27, 9, 0),
        at(27, 9, 20),
        at(27, 9, 40),
        at(30, 9, 0),
        at(30, 9, 20),
        at(30, 9, 40),
    ]
    assert slots[0].start.hour == 9 and slots[3].start.hour == 8  # 09:00 BST is 08:00 UTC
    assert all(s.end - s.start == timedelta(minutes=20) for s in slots)


def test_slots_skip_closures_and_partial_windows_and_sort_by_start() -> None:
    windows = [window("mon", "09:00", "09:50", "a"), window("mon", "09:00", "09:30", "b")]
    closures = [Closure(start=date(2026, 3, 9), end=date(2026, 3, 9))]
    slots = generate_slots(windows, closures, DEFAULT_TEAM, at(2, 0), at(17, 0))
    assert [(s.clinician_id, s.start) for s in slots] == [
        ("a", at(2, 9, 0)),
        ("b", at(2, 9, 0)),
        ("a", at(2, 9, 20)),
        ("a", at(16, 9, 0)),
        ("b", at(16, 9, 0)),
        ("a", at(16, 9, 20)),
    ]


# --- the built-in book ----------------------------------------------------------------


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}")
    create_tables(engine)
    return make_sessionmaker(engine)


def make_escalations(sessions: sessionmaker[Session], count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    with sessions() as session:
        session.add_all(
            EscalationRow(
                id=i,
                created_at=MONDAY_7AM,
                updated_at=MONDAY_7AM,
                patient_id=None,
                question="q",
                conversation=[],
                passages=[],
                reason="low_confidence",
                priority="routine",
                status="open",
                needs_attention=False,
            )
            for i in ids
        )
        session.commit()
    return ids


def request(
    escalation_id: str, key: str | None = None, priority: str = "routine"
) -> BookingRequest:
    return BookingRequest(
        escalation_id=escalation_id,
        patient_id="p-1",
        priority=priority,  # type: ignore[arg-type]
        idempotency_key=key or f"{escalation_id}:0",
        not_before=MONDAY_7AM,
    )


def test_availability_is_copied_from_the_clinic_file_and_operator_rows_are_kept(
    sessions: sessionmaker[Session],
) -> None:
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, Clock())
    book.sync_availability()
    windows = book.availability()
    expected = sum(len(c.hours) for c in DEFAULT_TEAM.clinicians)
    assert len(windows) == expected and {w.source for w in windows} == {"config"}
    assert windows[0].clinician_id == "nurse-patel" and windows[0].day == "mon"
    extra = book.add_availability("dr-hughes", "Doctor Hughes", "sat", time(9), time(10))
    BuiltinScheduler(sessions, DEFAULT_TEAM, Clock()).sync_availability()  # a restart
    again = book.availability()
    assert len(again) == expected + 1 and extra in again
    saturday = at(7, 0)
    assert [s.start for s in book.free_slots(saturday, saturday + timedelta(days=1))] == [
        at(7, 9, 0),
        at(7, 9, 20),
        at(7, 9, 40),
    ]
    book.remove_availability(extra.id)
    assert book.free_slots(saturday, saturday + timedelta(days=1)) == []
    with sessions() as session:
        assert (
            session.execute(select(func.count()).select_from(AvailabilityRow)).scalar() == expected
        )


async def test_a_fresh_install_books_a_thousand_distinct_routine_slots(
    sessions: sessionmaker[Session],
) -> None:
    book = BuiltinScheduler(sessions, load_clinic_config().care_team, Clock())
    ids = make_escalations(sessions, 1000)
    booked = [book.book_now(request(i)) for i in ids[:999]]
    booked.append(await book.book(request(ids[999])))
    assert all(a is not None for a in booked)
    keys = {(a.clinician_id, a.start) for a in booked if a is not None}
    assert len(keys) == 1000
    first = booked[0]
    assert first is not None
    assert (first.clinician_id, first.start) == ("nurse-patel", at(2, 8, 0))
    assert first.clinician_name == "nurse Patel" and first.end == at(2, 8, 20)
    horizon = MONDAY_7AM + timedelta(days=28)
    assert all(
        a is not None and MONDAY_7AM + timedelta(hours=1) <= a.start < horizon for a in booked
    )
    assert len(await book.list_appointments(MONDAY_7AM, horizon)) == 1000


def test_finding_a_free_slot_in_a_busy_book_takes_a_few_queries(
    sessions: sessionmaker[Session],
) -> None:
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, Clock())
    for escalation_id in make_escalations(sessions, 300):
        assert book.book_now(request(escalation_id)) is not None
    statements: list[str] = []
    engine = sessions.kw["bind"]

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        free = book.free_slots(MONDAY_7AM, MONDAY_7AM + timedelta(days=28))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert choose_slot(free, "routine", MONDAY_7AM, DEFAULT_TEAM) is not None
    # The booked slots of the horizon are read at once, not one query per slot.
    assert len(free) > 500 and len(statements) <= 5


def test_the_same_key_returns_the_same_appointment(sessions: sessionmaker[Session]) -> None:
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, Clock())
    (escalation_id,) = make_escalations(sessions, 1)
    first = book.book_now(request(escalation_id, "key-1"))
    again = book.book_now(request(escalation_id, "key-1"))
    assert first is not None and again == first
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(AppointmentRow)).scalar() == 1
    other = book.book_now(request(escalation_id, "key-2"))
    assert other is not None
    assert (other.clinician_id, other.start) != (first.clinician_id, first.start)


def test_concurrent_threads_never_share_a_slot(sessions: sessionmaker[Session]) -> None:
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, Clock())
    ids = make_escalations(sessions, 60)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: book.book_now(request(i)), ids))
    assert all(r is not None for r in results)
    assert len({(r.clinician_id, r.start) for r in results if r is not None}) == 60


def _book_in_another_process(url: str, ids: list[str]) -> list[tuple[str, str]]:
    engine = make_engine(url)
    book = BuiltinScheduler(make_sessionmaker(engine), load_clinic_config().care_team, Clock())
    made = [book.book_now(request(i)) for i in ids]
    engine.dispose()
    return [(a.clinician_id, a.start.isoformat()) for a in made if a is not None]


def test_concurrent_processes_never_share_a_slot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    create_tables(engine)
    ids = make_escalations(make_sessionmaker(engine), 45)
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        parts = pool.starmap(_book_in_another_process, [(url, ids[n::3]) for n in range(3)])
    booked = [b for part in parts for b in part]
    assert len(booked) == 45 and len(set(booked)) == 45


def test_cancel_frees_the_slot(sessions: sessionmaker[Session]) -> None:
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, Clock())
    first_id, second_id = make_escalations(sessions, 2)
    first = book.book_now(request(first_id))
    assert first is not None
    asyncio.run(book.cancel(first.id))
    assert book.appointments_between(MONDAY_7AM, MONDAY_7AM + timedelta(days=1)) == []
    second = book.book_now(request(second_id))
    assert second is not None and (second.clinician_id, second.start) == (
        first.clinician_id,
        first.start,
    )
    with pytest.raises(UnknownAppointmentError):
        book.cancel_now("no-such-appointment")


def test_urgent_and_emergency_requests(sessions: sessionmaker[Session]) -> None:
    clock = Clock(at(2, 16, 30))  # Monday 16:30: only 16:40 slots remain today
    book = BuiltinScheduler(sessions, DEFAULT_TEAM, clock)
    ids = make_escalations(sessions, 4)
    urgent = [book.book_now(request(i, priority="urgent")) for i in ids[:3]]
    assert [a.start if a else None for a in urgent] == [at(2, 16, 40), at(2, 16, 40), None]
    assert book.book_now(request(ids[3], priority="emergency")) is None


def test_a_team_without_hours_has_no_slot(sessions: sessionmaker[Session]) -> None:
    team = CareTeam(clinicians=[Clinician(id="x", name="x", hours=[])])
    book = BuiltinScheduler(sessions, team, Clock())
    (escalation_id,) = make_escalations(sessions, 1)
    assert book.book_now(request(escalation_id)) is None


def test_closures_from_the_clinic_file_have_no_slots(sessions: sessionmaker[Session]) -> None:
    team = CareTeam(
        clinicians=[
            Clinician(
                id="n",
                name="nurse N",
                hours=[WorkingHours(day="mon", start=time(9), end=time(10))],
            )
        ],
        closures=[Closure(start=date(2026, 3, 2), end=date(2026, 3, 2), reason="training")],
    )
    book = BuiltinScheduler(sessions, team, Clock())
    (escalation_id,) = make_escalations(sessions, 1)
    appointment = book.book_now(request(escalation_id))
    assert appointment is not None and appointment.start == at(9, 9, 0)

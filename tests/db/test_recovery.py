"""Crash recovery on SQLite and PostgreSQL: each state a kill can leave an escalation in is
finished (booked or flagged, then alerted once) and no slot stays held without it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.operations import schema
from escalation.database import make_engine, make_sessionmaker
from escalation.jobs import make_scheduler
from escalation.outbox import AlertDelivery, AlertOutbox
from escalation.record_tables import AppointmentRow
from escalation.records import EscalationRepository
from escalation.scheduling import BookingRequest, BuiltinScheduler
from escalation.service import EMERGENCY_REASON, EscalationService
from escalation.webhook import WebhookChannel
from tests.escalation.test_service import MONDAY_7AM, TEAM, Clock, new


class Deployment:
    """The escalation parts of one server process over one database (nothing started)."""

    def __init__(self, url: str, clock: Clock, http: httpx.AsyncClient) -> None:
        engine = make_engine(url)
        schema.upgrade(engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self.repository = EscalationRepository(self.sessions, clock)
        self.book = BuiltinScheduler(self.sessions, TEAM, clock)
        channel = WebhookChannel(http, "http://127.0.0.1:9/alerts", SecretStr("s"), timeout=1)
        self.outbox = AlertOutbox(
            self.sessions, make_scheduler(url), [channel], lambda *_: None, clock
        )
        self.service = EscalationService(
            self.repository, self.book, self.outbox, clock, horizon_days=28
        )

    def created_alerts(self, escalation_id: str) -> int:
        with self.sessions() as session:
            return len(
                session.scalars(
                    select(AlertDelivery.id).where(
                        AlertDelivery.escalation_id == escalation_id,
                        AlertDelivery.event == "escalation.created",
                    )
                ).all()
            )

    def booked(self) -> list[AppointmentRow]:
        with self.sessions() as session:
            return list(
                session.scalars(select(AppointmentRow).where(AppointmentRow.status == "booked"))
            )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_7AM)


@pytest.fixture
def deployment(database_url: str, clock: Clock, http: httpx.AsyncClient) -> Deployment:
    return Deployment(database_url, clock, http)


def later(clock: Clock) -> None:
    clock.now += timedelta(minutes=5)


async def test_killed_after_recording_is_booked_and_alerted_once(
    deployment: Deployment, clock: Clock
) -> None:
    stored, _ = deployment.repository.create(new())  # the kill came before booking
    later(clock)
    report = await deployment.service.recover(clock.now - timedelta(seconds=30))
    assert (report.booked, report.alerted) == (1, 1)
    escalation = await deployment.service.get(stored.id)
    assert escalation.status == "booked" and escalation.appointment is not None
    assert deployment.created_alerts(stored.id) == 1
    again = await deployment.service.recover(clock.now)
    assert not again.changed
    assert deployment.created_alerts(stored.id) == 1


async def test_killed_between_booking_and_recording_links_the_held_slot(
    deployment: Deployment, clock: Clock
) -> None:
    stored, _ = deployment.repository.create(new())
    held = deployment.book.book_now(
        BookingRequest(stored.id, stored.patient_id, "routine", f"{stored.id}:booking:0", clock())
    )
    assert held is not None
    later(clock)
    report = await deployment.service.recover(clock.now)
    assert (report.linked, report.released, report.alerted) == (1, 0, 1)
    escalation = await deployment.service.get(stored.id)
    assert escalation.appointment is not None and escalation.appointment.id == held.id
    assert [row.id for row in deployment.booked()] == [held.id]  # no second slot taken


async def test_a_slot_whose_escalation_moved_on_is_released(
    deployment: Deployment, clock: Clock
) -> None:
    # A reschedule killed after booking the new slot but before recording it.
    escalation = await deployment.service.open(new())
    assert escalation.appointment is not None
    extra = deployment.book.book_now(
        BookingRequest(
            escalation.id, escalation.patient_id, "routine", f"{escalation.id}:b:1", clock()
        )
    )
    assert extra is not None
    later(clock)
    report = await deployment.service.recover(clock.now)
    assert (report.released, report.linked, report.alerted) == (1, 0, 0)
    assert [row.id for row in deployment.booked()] == [escalation.appointment.id]
    assert deployment.created_alerts(escalation.id) == 1


async def test_an_unbookable_escalation_is_flagged_with_the_reason(
    deployment: Deployment, clock: Clock
) -> None:
    stored, _ = deployment.repository.create(new(priority="emergency"))
    later(clock)
    report = await deployment.service.recover(clock.now)
    assert (report.flagged, report.alerted) == (1, 1)
    escalation = await deployment.service.get(stored.id)
    assert escalation.needs_attention and escalation.attention_reason == EMERGENCY_REASON
    assert escalation.appointment is None


async def test_work_younger_than_the_grace_period_is_left_alone(
    deployment: Deployment, clock: Clock
) -> None:
    stored, _ = deployment.repository.create(new())
    report = await deployment.service.recover(clock.now - timedelta(seconds=30))
    assert not report.changed
    assert (await deployment.service.get(stored.id)).status == "open"


async def test_two_processes_recovering_at_once_book_and_alert_once(
    database_url: str, clock: Clock, http: httpx.AsyncClient
) -> None:
    first = Deployment(database_url, clock, http)
    second = Deployment(database_url, clock, http)
    ids = [first.repository.create(new())[0].id for _ in range(6)]
    later(clock)
    await asyncio.gather(first.service.recover(clock.now), second.service.recover(clock.now))
    for escalation_id in ids:
        assert (await first.service.get(escalation_id)).status == "booked"
        assert first.created_alerts(escalation_id) == 1
    booked = first.booked()
    assert len(booked) == len(ids)
    assert len({(row.clinician_id, row.start) for row in booked}) == len(ids)

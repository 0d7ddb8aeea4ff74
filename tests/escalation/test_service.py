"""The escalation service with the real SQLite database and the real built-in scheduler."""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from escalation.clinic import CareTeam, Clinician, load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import IllegalTransitionError, UnknownEscalationError
from escalation.record_models import NewEscalation, Passage
from escalation.record_tables import AppointmentRow
from escalation.records import EscalationRepository
from escalation.scheduling import BuiltinScheduler
from escalation.service import (
    ALERT_FAILED_REASON,
    EMERGENCY_REASON,
    NO_SAME_DAY_REASON,
    CoordinatorAlerts,
    EscalationService,
)

LONDON = ZoneInfo("Europe/London")
MONDAY_7AM = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
TEAM = load_clinic_config().care_team


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime = MONDAY_7AM) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Alerts:
    """Records what the service queued for coordinators (thread-safe)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        if self.fail:
            raise OSError("outbox unavailable")
        with self._lock:
            self.sent.append((escalation_id, event, payload))

    def events(self) -> list[str]:
        return [event for _, event, _ in self.sent]


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    create_tables(engine)
    return make_sessionmaker(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


def build(
    sessions: sessionmaker[Session],
    clock: Clock,
    alerts: CoordinatorAlerts,
    team: CareTeam = TEAM,
) -> EscalationService:
    repository = EscalationRepository(sessions, clock)
    scheduler = BuiltinScheduler(sessions, team, clock)
    return EscalationService(
        repository, scheduler, alerts, clock, horizon_days=team.booking_horizon_days
    )


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: Clock, alerts: Alerts) -> EscalationService:
    return build(sessions, clock, alerts)


_PATIENTS = itertools.count(1)


def new(priority: str = "routine", key: str | None = None, **extra: object) -> NewEscalation:
    fields: dict[str, object] = {
        # A patient of his own each time: one patient's open escalations of a kind merge.
        "patient_id": f"p-7-{next(_PATIENTS)}",
        "question": "My wound is a bit red, is that normal?",
        "conversation": [{"role": "patient", "text": "My wound is a bit red, is that normal?"}],
        "passages": [
            Passage(
                doc_id="wound-care",
                title="Looking after your wound",
                section="Redness",
                version="2",
                score=0.38,
                excerpt="Some redness around the cuts is normal.",
            )
        ],
        "confidence": 0.27,
        "red_flag_rule": None,
        "reason": "low_confidence",
        "priority": priority,
        "idempotency_key": key,
    }
    fields.update(extra)
    return NewEscalation.model_validate(fields)


def booked_slots(sessions: sessionmaker[Session]) -> list[tuple[str, datetime]]:
    with sessions() as session:
        return [
            (row.clinician_id, row.start)
            for row in session.execute(
                select(AppointmentRow).where(AppointmentRow.status == "booked")
            ).scalars()
        ]


async def test_open_books_records_history_and_alerts(
    service: EscalationService, alerts: Alerts
) -> None:
    escalation = await service.open(new(key="turn-1"))
    assert escalation.status == "booked" and not escalation.needs_attention
    appointment = escalation.appointment
    assert appointment is not None
    assert (appointment.clinician_name, appointment.start) == ("nurse Patel", at(2, 8, 0))
    history = await service.history(escalation.id)
    assert [(e.from_status, e.to_status, e.actor) for e in history] == [
        (None, "open", "system"),
        ("open", "booked", "system"),
    ]
    ((escalation_id, event, payload),) = alerts.sent
    assert (escalation_id, event) == (escalation.id, "escalation.created")
    assert payload["question"] == "My wound is a bit red, is that normal?"
    assert payload["conversation"][0]["role"] == "patient"
    assert payload["passages"][0]["doc_id"] == "wound-care"
    assert payload["priority"] == "routine" and payload["status"] == "booked"
    assert payload["appointment"]["clinician_name"] == "nurse Patel"
    assert payload["appointment"]["start"].startswith("2026-03-02T08:00:00")
    assert payload["patient_id"].startswith("p-7-") and payload["confidence"] == 0.27


async def test_open_is_idempotent_on_the_key(
    service: EscalationService, alerts: Alerts, sessions: sessionmaker[Session]
) -> None:
    first = await service.open(new(key="turn-9"))
    again = await service.open(new(key="turn-9"))
    assert again.id == first.id and again.appointment == first.appointment
    assert len(booked_slots(sessions)) == 1 and alerts.events() == ["escalation.created"]
    concurrent = await asyncio.gather(*(service.open(new(key="turn-10")) for _ in range(5)))
    assert len({e.id for e in concurrent}) == 1
    assert len(booked_slots(sessions)) == 2
    assert len(await service.list()) == 2


async def test_fifty_concurrent_opens_get_fifty_distinct_slots(
    service: EscalationService, sessions: sessionmaker[Session], alerts: Alerts
) -> None:
    made = await asyncio.gather(*(service.open(new(key=f"k-{n}")) for n in range(50)))
    assert len({e.id for e in made}) == 50
    assert all(e.status == "booked" for e in made)
    slots = booked_slots(sessions)
    assert len(slots) == 50 and len(set(slots)) == 50
    assert len(alerts.sent) == 50


def test_fifty_opens_from_threads_get_fifty_distinct_slots(
    sessions: sessionmaker[Session], clock: Clock, alerts: Alerts
) -> None:
    service = build(sessions, clock, alerts)

    def open_one(n: int) -> str:
        return asyncio.run(service.open(new(key=f"thread-{n}"))).status

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(open_one, range(50)))
    assert statuses == ["booked"] * 50
    slots = booked_slots(sessions)
    assert len(slots) == 50 and len(set(slots)) == 50


async def test_no_hours_means_open_with_attention_never_dropped(
    sessions: sessionmaker[Session], clock: Clock, alerts: Alerts
) -> None:
    team = CareTeam(clinicians=[Clinician(id="n", name="nurse N", hours=[])])
    service = build(sessions, clock, alerts, team)
    escalation = await service.open(new())
    assert escalation.status == "open" and escalation.appointment is None
    assert escalation.needs_attention
    assert escalation.attention_reason == "no free slot within 28 days"
    assert alerts.events() == ["escalation.created"]
    assert alerts.sent[0][2]["attention_reason"] == "no free slot within 28 days"
    assert [e.id for e in await service.list(status="open")] == [escalation.id]


async def test_urgent_books_today_or_asks_for_a_call_back(
    sessions: sessionmaker[Session], alerts: Alerts
) -> None:
    clock = Clock(at(2, 16, 30))
    service = build(sessions, clock, alerts)
    today = [await service.open(new("urgent")) for _ in range(3)]
    assert [e.status for e in today] == ["booked", "booked", "open"]
    assert today[0].appointment is not None and today[0].appointment.start == at(2, 16, 40)
    assert today[2].needs_attention and today[2].attention_reason == NO_SAME_DAY_REASON


async def test_emergency_is_not_booked_but_alerted(
    service: EscalationService, alerts: Alerts
) -> None:
    escalation = await service.open(
        new("emergency", reason="red_flag", red_flag_rule="chest_pain", confidence=None)
    )
    assert escalation.status == "open" and escalation.appointment is None
    assert escalation.needs_attention and escalation.attention_reason == EMERGENCY_REASON
    assert alerts.sent[0][2]["red_flag_rule"] == "chest_pain"


async def test_a_failing_outbox_leaves_the_escalation_flagged(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    service = build(sessions, clock, Alerts(fail=True))
    escalation = await service.open(new())
    assert escalation.status == "booked" and escalation.needs_attention
    assert escalation.attention_reason == ALERT_FAILED_REASON


async def test_list_orders_by_priority_then_age(service: EscalationService, clock: Clock) -> None:
    made = {}
    for name, priority in [
        ("r1", "routine"),
        ("u1", "urgent"),
        ("e1", "emergency"),
        ("r2", "routine"),
    ]:
        clock.now += timedelta(minutes=1)
        made[name] = (await service.open(new(priority))).id
    assert [e.id for e in await service.list()] == [
        made["e1"],
        made["u1"],
        made["r1"],
        made["r2"],
    ]
    assert [e.id for e in await service.list(priority="routine")] == [made["r1"], made["r2"]]
    assert [e.id for e in await service.list(status="booked", priority="urgent")] == [made["u1"]]


async def test_staff_actions_record_the_actor_and_alert(
    service: EscalationService, alerts: Alerts, sessions: sessionmaker[Session]
) -> None:
    escalation = await service.open(new())
    acknowledged = await service.acknowledge(escalation.id, "staff:key-1")
    assert acknowledged.status == "acknowledged" and acknowledged.appointment is not None
    resolved = await service.resolve(escalation.id, "staff:key-2", "called the patient")
    assert resolved.status == "resolved"
    history = [(e.to_status, e.actor, e.note) for e in await service.history(escalation.id)]
    assert history[-2:] == [
        ("acknowledged", "staff:key-1", None),
        ("resolved", "staff:key-2", "called the patient"),
    ]
    assert alerts.events() == [
        "escalation.created",
        "escalation.acknowledged",
        "escalation.resolved",
    ]
    with pytest.raises(IllegalTransitionError):
        await service.acknowledge(escalation.id, "staff:key-1")
    with pytest.raises(IllegalTransitionError):
        await service.cancel(escalation.id, "staff:key-1")
    with pytest.raises(IllegalTransitionError):
        await service.reschedule(escalation.id, "staff:key-1")
    assert len(booked_slots(sessions)) == 1  # the refused reschedule booked nothing
    with pytest.raises(UnknownEscalationError):
        await service.get("missing")
    with pytest.raises(UnknownEscalationError):
        await service.resolve("missing", "staff:key-1")


async def test_cancel_frees_the_slot(
    service: EscalationService, sessions: sessionmaker[Session], alerts: Alerts
) -> None:
    first = await service.open(new())
    cancelled = await service.cancel(first.id, "staff:key-1", "duplicate")
    assert cancelled.status == "cancelled" and cancelled.appointment is None
    assert booked_slots(sessions) == []
    second = await service.open(new())
    assert second.appointment is not None and first.appointment is not None
    assert second.appointment.start == first.appointment.start
    assert alerts.events()[-2:] == ["escalation.cancelled", "escalation.created"]


async def test_reschedule_books_a_new_slot_then_frees_the_old(
    service: EscalationService, sessions: sessionmaker[Session], alerts: Alerts
) -> None:
    escalation = await service.open(new())
    old = escalation.appointment
    assert old is not None
    moved = await service.reschedule(escalation.id, "staff:key-3", not_before=at(4, 13, 0))
    assert moved.status == "booked" and moved.appointment is not None
    assert moved.appointment.id != old.id and moved.appointment.start == at(4, 13, 0)
    assert booked_slots(sessions) == [(moved.appointment.clinician_id, at(4, 13, 0))]
    last = (await service.history(escalation.id))[-1]
    assert (last.from_status, last.to_status, last.actor) == ("booked", "booked", "staff:key-3")
    assert alerts.events()[-1] == "escalation.rescheduled"
    listed = await service.list_appointments(at(2, 0), at(10, 0))
    assert [a.id for a in listed] == [moved.appointment.id]


async def test_reschedule_of_an_unbooked_escalation_books_it(
    sessions: sessionmaker[Session], clock: Clock, alerts: Alerts
) -> None:
    clock.now = at(2, 16, 50)
    service = build(sessions, clock, alerts)
    escalation = await service.open(new("urgent"))
    assert escalation.status == "open" and escalation.attention_reason == NO_SAME_DAY_REASON
    booked = await service.reschedule(escalation.id, "staff:key-1", not_before=at(3, 8, 0))
    assert booked.status == "booked" and not booked.needs_attention
    assert booked.appointment is not None and booked.appointment.start == at(3, 8, 0)


async def test_mark_attention_records_without_alerting(
    service: EscalationService, alerts: Alerts
) -> None:
    escalation = await service.open(new())
    flagged = await service.mark_attention(escalation.id, "coordinator notification failed")
    assert flagged.needs_attention and flagged.status == "booked"
    assert flagged.attention_reason == "coordinator notification failed"
    assert (await service.history(escalation.id))[-1].note == (
        "needs attention: coordinator notification failed"
    )
    assert alerts.events() == ["escalation.created"]

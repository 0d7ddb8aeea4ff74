"""One open escalation per patient (or anonymous conversation), reason and danger sign;
unidentified callers never book; their alerts are aggregated in bursts."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from escalation.bursts import BURST_EVENT, AlertBursts
from escalation.clinic import load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.record_models import NewEscalation
from escalation.record_tables import AppointmentRow
from escalation.records import EscalationRepository
from escalation.scheduling import BuiltinScheduler
from escalation.service import CALLBACK_REASON, EMERGENCY_REASON, EscalationService
from tests.escalation.test_service import MONDAY_7AM, Alerts, Clock

TEAM = load_clinic_config().care_team
_TURNS = itertools.count(1)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'merge.db'}")
    create_tables(engine)
    return make_sessionmaker(engine)


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def service(sessions: sessionmaker[Session], alerts: Alerts) -> EscalationService:
    clock = Clock(MONDAY_7AM)
    return EscalationService(
        EscalationRepository(sessions, clock),
        BuiltinScheduler(sessions, TEAM, clock),
        alerts,
        clock,
    )


def turn(
    question: str = "Can I speak to a nurse?",
    patient_id: str | None = None,
    conversation_id: str | None = None,
    reason: str = "patient_request",
    priority: str = "routine",
    rule: str | None = None,
) -> NewEscalation:
    return NewEscalation.model_validate(
        {
            "patient_id": patient_id,
            "conversation_id": conversation_id,
            "question": question,
            "conversation": [{"role": "patient", "text": question}],
            "reason": reason,
            "priority": priority,
            "red_flag_rule": rule,
            "idempotency_key": f"turn:{next(_TURNS)}",
        }
    )


def bookings(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AppointmentRow)) or 0)


async def test_later_turns_of_a_patient_join_his_open_escalation(
    service: EscalationService, alerts: Alerts, sessions: sessionmaker[Session]
) -> None:
    first = await service.open(turn("Put me through to a nurse", patient_id="p-1"))
    second = await service.open(turn("Please, a person", patient_id="p-1"))
    assert second.id == first.id and second.turn_count == 2
    assert [t["text"] for t in second.conversation][-1] == "Please, a person"
    assert bookings(sessions) == 1 and alerts.events() == ["escalation.created"]
    # Another reason, or another patient, is another escalation.
    other = await service.open(turn("What?", patient_id="p-1", reason="low_confidence"))
    assert other.id != first.id
    assert (await service.open(turn(patient_id="p-2"))).id != first.id
    # Once resolved, the next request opens a new one.
    await service.resolve(first.id, "staff:s1")
    again = await service.open(turn(patient_id="p-1"))
    assert again.id != first.id and again.turn_count == 1


async def test_red_flags_are_keyed_by_rule(service: EscalationService) -> None:
    chest = turn("chest pain", "p-3", reason="red_flag", priority="emergency", rule="chest_pain")
    first = await service.open(chest)
    repeat = await service.open(
        turn("chest pain!", "p-3", reason="red_flag", priority="emergency", rule="chest_pain")
    )
    assert repeat.id == first.id
    bleeding = await service.open(
        turn("bleeding", "p-3", reason="red_flag", priority="emergency", rule="heavy_bleeding")
    )
    assert bleeding.id != first.id and bleeding.priority == "emergency"


async def test_unidentified_callers_never_book(
    service: EscalationService, sessions: sessionmaker[Session]
) -> None:
    made = await service.open(turn(conversation_id="call-1"))
    assert made.appointment is None and made.status == "open"
    assert made.needs_attention and made.attention_reason == CALLBACK_REASON
    assert bookings(sessions) == 0
    emergency = await service.open(
        turn(
            "chest pain",
            conversation_id="call-1",
            reason="red_flag",
            priority="emergency",
            rule="chest_pain",
        )
    )
    assert emergency.attention_reason == EMERGENCY_REASON and bookings(sessions) == 0
    # A coordinator converts the callback request by booking it.
    booked = await service.reschedule(made.id, "staff:s1")
    assert booked.appointment is not None and bookings(sessions) == 1


async def test_concurrent_turns_of_one_conversation_make_one_escalation(
    service: EscalationService, alerts: Alerts
) -> None:
    made = await asyncio.gather(
        *(
            service.open(
                turn(
                    "I have chest pain",
                    conversation_id="sock-9",
                    reason="red_flag",
                    priority="emergency",
                    rule="chest_pain",
                )
            )
            for _ in range(20)
        )
    )
    assert len({e.id for e in made}) == 1
    stored = await service.get(made[0].id)
    assert stored.turn_count == 20
    assert alerts.events() == ["escalation.created"]


async def test_turns_without_a_conversation_are_never_merged(service: EscalationService) -> None:
    a = await service.open(turn())
    b = await service.open(turn())
    assert a.id != b.id


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((escalation_id, event, payload))


async def test_a_burst_of_unidentified_alerts_goes_out_as_one() -> None:
    sent = Recorder()
    bursts = AlertBursts(sent, Clock(MONDAY_7AM), window_s=0.2)
    for n in range(30):
        bursts.enqueue(
            f"e{n}",
            "escalation.created",
            {"patient_id": None, "priority": "routine", "reason": "patient_request"},
        )
    assert sent.sent == [] and bursts.held == 30
    # An identified patient's alert and staff events are never held.
    bursts.enqueue("p", "escalation.created", {"patient_id": "p-1", "priority": "routine"})
    bursts.enqueue("e1", "escalation.resolved", {"patient_id": None})
    assert [e for _, e, _ in sent.sent] == ["escalation.created", "escalation.resolved"]
    await asyncio.sleep(0.4)
    assert len(sent.sent) == 3
    escalation_id, event, payload = sent.sent[-1]
    assert event == BURST_EVENT and escalation_id == "e0"
    assert payload["count"] == 30 and len(payload["escalation_ids"]) == 30
    assert "30 escalations" in payload["question"] and payload["reason"] == "patient_request"


async def test_a_lone_alert_goes_out_as_itself_and_emergencies_at_once() -> None:
    sent = Recorder()
    bursts = AlertBursts(sent, Clock(MONDAY_7AM), window_s=0.2)
    bursts.enqueue("e1", "escalation.created", {"patient_id": None, "priority": "routine"})
    bursts.flush()
    assert [(i, e) for i, e, _ in sent.sent] == [("e1", "escalation.created")]
    bursts.enqueue("e2", "escalation.created", {"patient_id": None, "priority": "emergency"})
    assert [i for i, _, _ in sent.sent] == ["e1", "e2"]
    bursts.enqueue("e3", "escalation.created", {"patient_id": None, "priority": "emergency"})
    bursts.enqueue("e4", "escalation.created", {"patient_id": None, "priority": "routine"})
    bursts.flush()
    _, event, payload = sent.sent[-1]
    assert event == BURST_EVENT and payload["priority"] == "emergency" and payload["count"] == 2

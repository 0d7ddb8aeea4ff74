"""Escalation records on a real SQLite database: storage, history, legal status changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import EscalationError, IllegalTransitionError, UnknownEscalationError
from escalation.record_models import (
    LEGAL_TRANSITIONS,
    Appointment,
    NewEscalation,
    Passage,
    Status,
    new_id,
)
from escalation.record_tables import AppointmentRow, slot_key
from escalation.records import EscalationRepository

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    create_tables(engine)
    return make_sessionmaker(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(sessions: sessionmaker[Session], clock: Clock) -> EscalationRepository:
    return EscalationRepository(sessions, clock)


_PATIENTS = itertools.count(1)


def new(key: str | None = None, priority: str = "routine", **extra: object) -> NewEscalation:
    fields: dict[str, object] = {
        # A patient of his own each time: one patient's open escalations of a kind merge.
        "patient_id": f"p-1-{next(_PATIENTS)}",
        "question": "Is it normal to leak when I cough?",
        "conversation": [
            {"role": "assistant", "text": "Hello."},
            {"role": "patient", "text": "Is it normal to leak when I cough?"},
        ],
        "passages": [
            Passage(
                doc_id="continence",
                title="Bladder control",
                section="Leaks > Coughing",
                version="3",
                score=0.41,
                excerpt="Leaking when you cough is common.",
            )
        ],
        "confidence": 0.31,
        "red_flag_rule": None,
        "reason": "low_confidence",
        "priority": priority,
        "idempotency_key": key,
    }
    fields.update(extra)
    return NewEscalation.model_validate(fields)


def test_tables_exist_with_their_columns(sessions: sessionmaker[Session]) -> None:
    inspector = inspect(sessions.kw["bind"])
    tables = set(inspector.get_table_names())
    assert {"escalations", "escalation_events", "appointments", "availability"} <= tables
    columns = {c["name"] for c in inspector.get_columns("escalations")}
    assert {
        "id",
        "created_at",
        "updated_at",
        "patient_id",
        "question",
        "conversation",
        "passages",
        "confidence",
        "red_flag_rule",
        "reason",
        "priority",
        "status",
        "needs_attention",
        "attention_reason",
        "idempotency_key",
    } <= columns
    assert {"escalation_id", "at", "from_status", "to_status", "actor", "note"} <= {
        c["name"] for c in inspector.get_columns("escalation_events")
    }
    assert {
        "id",
        "escalation_id",
        "clinician_id",
        "clinician_name",
        "start",
        "end",
        "status",
        "external_ref",
    } <= {c["name"] for c in inspector.get_columns("appointments")}


def test_create_stores_everything_and_reads_back_aware_utc(repo: EscalationRepository) -> None:
    escalation, created = repo.create(new("k1"))
    assert created
    got = repo.get(escalation.id)
    assert got == escalation
    assert got.status == "open" and not got.needs_attention and got.appointment is None
    assert got.created_at == T0 and got.created_at.tzinfo is not None
    assert got.conversation[1] == {"role": "patient", "text": "Is it normal to leak when I cough?"}
    assert got.passages[0].section == "Leaks > Coughing" and got.passages[0].score == 0.41
    assert got.confidence == 0.31 and got.reason == "low_confidence"
    events = repo.events(escalation.id)
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [(None, "open", "system")]


def test_create_is_idempotent_on_the_key(repo: EscalationRepository, clock: Clock) -> None:
    first, created_first = repo.create(new("same"))
    clock.now += timedelta(minutes=1)
    second, created_second = repo.create(new("same", question="asked again"))
    assert created_first and not created_second
    assert second.id == first.id and second.question == first.question
    assert len(repo.list()) == 1
    _, created_other = repo.create(new("other"))
    _, created_keyless = repo.create(new(None))
    _, created_keyless_again = repo.create(new(None))
    assert created_other and created_keyless and created_keyless_again
    assert len(repo.list()) == 4


def test_legal_path_records_each_change_with_its_actor(
    repo: EscalationRepository, clock: Clock
) -> None:
    escalation, _ = repo.create(new())
    clock.now += timedelta(minutes=5)
    repo.transition(escalation.id, "acknowledged", "staff:k-7")
    repo.transition(escalation.id, "booked", "staff:k-7", "booked by phone")
    repo.transition(escalation.id, "booked", "staff:k-8", "moved")
    done = repo.transition(escalation.id, "resolved", "staff:k-8", "called back")
    assert done.status == "resolved" and done.updated_at == T0 + timedelta(minutes=5)
    history = [(e.from_status, e.to_status, e.actor, e.note) for e in repo.events(done.id)]
    assert history == [
        (None, "open", "system", "low_confidence"),
        ("open", "acknowledged", "staff:k-7", None),
        ("acknowledged", "booked", "staff:k-7", "booked by phone"),
        ("booked", "booked", "staff:k-8", "moved"),
        ("booked", "resolved", "staff:k-8", "called back"),
    ]


ALL: list[Status] = ["open", "acknowledged", "booked", "resolved", "cancelled"]
ILLEGAL = [(a, b) for a, b in product(ALL, ALL) if b not in LEGAL_TRANSITIONS[a]]


def _reach(repo: EscalationRepository, status: Status) -> str:
    escalation, _ = repo.create(new())
    if status != "open":
        repo.transition(escalation.id, status, "system")
    return escalation.id


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_changes_raise_and_change_nothing(
    repo: EscalationRepository, current: Status, target: Status
) -> None:
    escalation_id = _reach(repo, current)
    before = repo.events(escalation_id)
    with pytest.raises(IllegalTransitionError) as raised:
        repo.transition(escalation_id, target, "staff:k-1")
    assert isinstance(raised.value, EscalationError)
    assert repo.get(escalation_id).status == current
    assert repo.events(escalation_id) == before


def test_final_states_and_the_known_illegal_ones() -> None:
    assert ("resolved", "open") in ILLEGAL and ("cancelled", "booked") in ILLEGAL
    assert ("open", "open") in ILLEGAL and ("acknowledged", "acknowledged") in ILLEGAL
    assert ("booked", "booked") not in ILLEGAL and ("booked", "acknowledged") not in ILLEGAL
    assert LEGAL_TRANSITIONS["resolved"] == frozenset() == LEGAL_TRANSITIONS["cancelled"]


def test_unknown_ids_raise(repo: EscalationRepository) -> None:
    for call in (
        lambda: repo.get("nope"),
        lambda: repo.transition("nope", "resolved", "system"),
        lambda: repo.mark_attention("nope", "x"),
        lambda: repo.events("nope"),
    ):
        with pytest.raises(UnknownEscalationError):
            call()


def test_list_orders_by_priority_then_age_and_filters(
    repo: EscalationRepository, clock: Clock
) -> None:
    made = []
    for priority in ("routine", "urgent", "emergency", "routine", "urgent"):
        clock.now += timedelta(minutes=1)
        made.append(repo.create(new(priority=priority))[0])
    order = [(e.priority, e.id) for e in repo.list()]
    assert order == [
        ("emergency", made[2].id),
        ("urgent", made[1].id),
        ("urgent", made[4].id),
        ("routine", made[0].id),
        ("routine", made[3].id),
    ]
    repo.transition(made[1].id, "acknowledged", "staff:k")
    assert [e.id for e in repo.list(status="open", priority="urgent")] == [made[4].id]
    assert [e.id for e in repo.list(status="acknowledged")] == [made[1].id]


def test_attention_reasons_accumulate_and_are_recorded(repo: EscalationRepository) -> None:
    escalation, _ = repo.create(new())
    repo.mark_attention(escalation.id, "no free slot within 28 days")
    repo.mark_attention(escalation.id, "coordinator notification failed")
    again = repo.mark_attention(escalation.id, "coordinator notification failed")
    assert again.needs_attention and again.status == "open"
    assert again.attention_reason == "no free slot within 28 days; coordinator notification failed"
    notes = [e.note for e in repo.events(escalation.id)][1:]
    assert notes[0] == "needs attention: no free slot within 28 days"
    repo.clear_attention(escalation.id, ["no free slot within 28 days"])
    cleared = repo.get(escalation.id)
    assert cleared.needs_attention and cleared.attention_reason == "coordinator notification failed"
    repo.clear_attention(escalation.id, ["coordinator notification failed"])
    assert not repo.get(escalation.id).needs_attention


def _appointment(
    escalation_id: str, clinician: str, start: datetime, key: str | None
) -> AppointmentRow:
    return AppointmentRow(
        id=new_id(),
        escalation_id=escalation_id,
        clinician_id=clinician,
        clinician_name=clinician,
        start=start,
        end=start + timedelta(minutes=20),
        status="booked",
        slot_key=key,
        created_at=T0,
    )


def test_the_database_refuses_two_bookings_of_one_slot(
    repo: EscalationRepository, sessions: sessionmaker[Session]
) -> None:
    a, _ = repo.create(new())
    b, _ = repo.create(new())
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    first = _appointment(a.id, "nurse-patel", start, slot_key("nurse-patel", start))
    with sessions() as session:
        session.add(first)
        session.commit()
    with pytest.raises(IntegrityError), sessions() as session:
        session.add(_appointment(b.id, "nurse-patel", start, slot_key("nurse-patel", start)))
        session.commit()
    # Another clinician at the same time is fine; so is the slot once cancelled.
    with sessions() as session:
        session.add(_appointment(b.id, "nurse-okafor", start, slot_key("nurse-okafor", start)))
        session.commit()
    repo.mark_appointment_cancelled(first.id)
    with sessions() as session:
        session.add(_appointment(b.id, "nurse-patel", start, slot_key("nurse-patel", start)))
        session.commit()
        statuses = sorted(
            session.execute(
                select(AppointmentRow.status).where(AppointmentRow.clinician_id == "nurse-patel")
            ).scalars()
        )
    assert statuses == ["booked", "cancelled"]


def test_record_booking_sets_the_current_appointment_once(repo: EscalationRepository) -> None:
    escalation, _ = repo.create(new())
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    first = Appointment(
        id="ext-1",
        escalation_id=escalation.id,
        clinician_id="dr-hughes",
        clinician_name="Doctor Hughes",
        start=start,
        end=start + timedelta(minutes=20),
        external_ref="https://fhir.example/Appointment/ext-1",
    )
    booked = repo.record_booking(escalation.id, first, "system", "booked")
    assert booked.status == "booked" and booked.appointment == first
    assert repo.record_booking(escalation.id, first, "system", "booked") == booked  # a retry
    assert len(repo.events(escalation.id)) == 2
    second = first.model_copy(update={"id": "ext-2", "start": start + timedelta(days=1)})
    moved = repo.record_booking(escalation.id, second, "staff:k", "moved")
    assert moved.appointment == second
    assert [a.id for a in repo.appointments_of(escalation.id)] == ["ext-1", "ext-2"]
    repo.mark_appointment_cancelled("ext-2")
    assert repo.get(escalation.id).appointment is None


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive"), sessions() as session:
        session.add(_appointment("x", "nurse-patel", datetime(2026, 3, 3, 9, 0), None))
        session.commit()

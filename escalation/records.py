"""Escalation records: the tables, the domain models, the legal status changes, the repository.

Tables (on ``escalation.database.Base``; the same on SQLite and PostgreSQL):

- ``escalations``: one row per hand-over to people, with what the patient asked and what
  the assistant found;
- ``escalation_events``: the history of each escalation (who changed what, when);
- ``appointments``: booked and cancelled appointments. ``slot_key`` (clinician and start)
  is UNIQUE and set to NULL on cancellation, so two booked appointments can never hold
  the same clinician at the same start, whichever process books them (NULLs never clash);
- ``availability`` and ``clinic_closures``: the care team's weekly hours and closed days,
  which the built-in scheduler generates its slots from (see ``escalation.scheduling``).

Times are stored as UTC and always come back timezone-aware.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any, Literal, Protocol, cast, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    case,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from escalation.database import Base
from escalation.errors import IllegalTransitionError, UnknownEscalationError

Reason = Literal["low_confidence", "red_flag", "patient_request"]
Priority = Literal["routine", "urgent", "emergency"]
Status = Literal["open", "acknowledged", "booked", "resolved", "cancelled"]
AppointmentStatus = Literal["booked", "cancelled"]

PRIORITY_ORDER: dict[Priority, int] = {"emergency": 0, "urgent": 1, "routine": 2}

LEGAL_TRANSITIONS: dict[Status, frozenset[Status]] = {
    "open": frozenset({"acknowledged", "booked", "resolved", "cancelled"}),
    "acknowledged": frozenset({"booked", "resolved", "cancelled"}),
    # booked -> booked is a reschedule.
    "booked": frozenset({"acknowledged", "booked", "resolved", "cancelled"}),
    "resolved": frozenset(),
    "cancelled": frozenset(),
}

SYSTEM_ACTOR = "system"
ERASED = "[erased]"


def check_transition(escalation_id: str, current: Status, target: Status) -> None:
    """Raise ``IllegalTransitionError`` unless ``current -> target`` is allowed."""
    if target not in LEGAL_TRANSITIONS[current]:
        raise IllegalTransitionError(
            f"escalation {escalation_id} is {current} and cannot become {target}"
        )


def slot_key(clinician_id: str, start: datetime) -> str:
    """The value that makes a booked clinician-and-start unique."""
    return f"{clinician_id}|{start.astimezone(UTC).replace(tzinfo=None).isoformat()}Z"


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC; returns them aware (UTC) on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(values: tuple[str, ...], name: str) -> Enum:
    return Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


# --- tables ---------------------------------------------------------------------------


class EscalationRow(Base):
    __tablename__ = "escalations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    patient_id: Mapped[str | None] = mapped_column(String(100), index=True, nullable=True)
    question: Mapped[str] = mapped_column(Text)
    conversation: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    passages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    red_flag_rule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str] = mapped_column(_enum(get_args(Reason), "escalation_reason"))
    priority: Mapped[str] = mapped_column(_enum(get_args(Priority), "escalation_priority"))
    status: Mapped[str] = mapped_column(_enum(get_args(Status), "escalation_status"), index=True)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    attention_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    # The appointment booked for it most recently (shown while that one is still booked).
    appointment_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The anonymous conversation it came from (None for identified patients' turns).
    conversation_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    # "<subject>|<reason>|<rule>" while not resolved or cancelled, NULL after: the guard that
    # keeps one open escalation per patient (or conversation) and reason, across processes.
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    # How many turns this escalation holds (later turns of the same kind are added to it).
    turn_count: Mapped[int] = mapped_column(Integer, default=1)
    # When the coordinators' "created" alert was queued; NULL means a crash came first and
    # ``EscalationService.recover`` still has to finish it (book or flag, then alert).
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class EscalationEventRow(Base):
    __tablename__ = "escalation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    escalation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AppointmentRow(Base):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_start", "start"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    escalation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    clinician_id: Mapped[str] = mapped_column(String(100))
    clinician_name: Mapped[str] = mapped_column(String(200))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(_enum(get_args(AppointmentStatus), "appointment_status"))
    external_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # "<clinician>|<start>" while booked, NULL once cancelled: the double-booking guard.
    slot_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AvailabilityRow(Base):
    """One weekly window of one clinician, in the clinic's time zone.

    ``source`` is ``config`` for rows copied from the clinic file (replaced on every start)
    or ``operator`` for rows an operator added (kept).
    """

    __tablename__ = "availability"
    __table_args__ = (
        UniqueConstraint("source", "clinician_id", "weekday", "start_time", "end_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clinician_id: Mapped[str] = mapped_column(String(100))
    clinician_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="config")


class ClosureRow(Base):
    __tablename__ = "clinic_closures"
    __table_args__ = (UniqueConstraint("source", "start_date", "end_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(20), default="config")


# --- domain models --------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Passage(_Model):
    """An approved passage the assistant considered (what the coordinator reads)."""

    doc_id: str
    title: str
    section: str
    version: str
    score: float
    excerpt: str


class Appointment(_Model):
    id: str
    escalation_id: str
    clinician_id: str
    clinician_name: str
    start: datetime
    end: datetime
    status: AppointmentStatus = "booked"
    external_ref: str | None = None


class EscalationEvent(_Model):
    escalation_id: str
    at: datetime
    from_status: Status | None
    to_status: Status
    actor: str
    note: str | None = None


class NewEscalation(_Model):
    patient_id: str | None
    question: str
    conversation: list[dict[str, str]] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    confidence: float | None = None
    red_flag_rule: str | None = None
    reason: Reason
    priority: Priority
    idempotency_key: str | None = None
    conversation_id: str | None = None
    """The conversation of an anonymous caller, so his repeated turns share one escalation."""


def open_key(new: NewEscalation) -> str | None:
    """What makes two escalations "the same" while the first is open; None never merges.

    The subject is the patient, else the anonymous conversation; red flags are keyed by
    their rule as well, so a different danger sign in the same conversation still escalates.
    """
    if new.patient_id is not None:
        subject = f"patient:{new.patient_id}"
    elif new.conversation_id is not None:
        subject = f"conversation:{new.conversation_id}"
    else:
        return None
    return f"{subject}|{new.reason}|{new.red_flag_rule or ''}"[:300]


# The longest conversation an escalation keeps; older repeated turns are dropped.
MAX_CONVERSATION_ENTRIES = 40


class Escalation(_Model):
    id: str
    created_at: datetime
    updated_at: datetime
    patient_id: str | None
    question: str
    conversation: list[dict[str, str]]
    passages: list[Passage]
    confidence: float | None
    red_flag_rule: str | None
    reason: Reason
    priority: Priority
    status: Status
    needs_attention: bool
    attention_reason: str | None
    idempotency_key: str | None
    appointment: Appointment | None = None
    """The appointment currently booked for it, if any."""
    conversation_id: str | None = None
    turn_count: int = 1


def appointment_from_row(row: AppointmentRow) -> Appointment:
    return Appointment(
        id=row.id,
        escalation_id=row.escalation_id,
        clinician_id=row.clinician_id,
        clinician_name=row.clinician_name,
        start=row.start,
        end=row.end,
        status=row.status,
        external_ref=row.external_ref,
    )


def _escalation_from_row(row: EscalationRow, appointment: Appointment | None) -> Escalation:
    return Escalation(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        patient_id=row.patient_id,
        question=row.question,
        conversation=[
            {"role": str(t.get("role", "")), "text": str(t.get("text", ""))}
            for t in row.conversation
        ],
        passages=[Passage.model_validate(p) for p in row.passages],
        confidence=row.confidence,
        red_flag_rule=row.red_flag_rule,
        reason=row.reason,
        priority=row.priority,
        status=row.status,
        needs_attention=row.needs_attention,
        attention_reason=row.attention_reason,
        idempotency_key=row.idempotency_key,
        appointment=appointment,
        conversation_id=row.conversation_id,
        turn_count=row.turn_count or 1,
    )


def _closing(target: Status) -> dict[str, Any]:
    """A closed escalation frees its open key: the next turn of its kind opens a new one."""
    return {"open_key": None} if target in ("resolved", "cancelled") else {}


def _join_reasons(current: str | None, reason: str) -> str:
    parts = [p for p in (current or "").split("; ") if p]
    if reason not in parts:
        parts.append(reason)
    return "; ".join(parts)


def _drop_reasons(current: str | None, drop: Iterable[str]) -> str | None:
    dropped = set(drop)
    parts = [p for p in (current or "").split("; ") if p and p not in dropped]
    return "; ".join(parts) or None


class AuditSink(Protocol):
    """Where staff changes to escalations are recorded, in the change's own transaction."""

    def append(
        self, session: Session, actor: str, action: str, resource: str, patient_id: str | None
    ) -> None: ...


# --- repository -----------------------------------------------------------------------


class EscalationRepository:
    """Synchronous access to escalations and their history (callers run it in a thread).

    Status changes are compare-and-set updates (``... WHERE status = <seen>``), so two
    concurrent changes never both win, on SQLite or PostgreSQL.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        audit: AuditSink | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.audit = audit

    def _audited(self, session: Session, escalation_id: str, actor: str, action: str) -> None:
        """Record a staff action in ``session``'s transaction (system actions are not)."""
        if self.audit is None or actor == SYSTEM_ACTOR:
            return
        patient_id = session.execute(
            select(EscalationRow.patient_id).where(EscalationRow.id == escalation_id)
        ).scalar_one_or_none()
        self.audit.append(session, actor, action, f"escalation:{escalation_id}", patient_id)

    # reading

    def get(self, escalation_id: str) -> Escalation:
        with self._sessions() as session:
            row = session.get(EscalationRow, escalation_id)
            if row is None:
                raise UnknownEscalationError(f"there is no escalation {escalation_id}")
            return _escalation_from_row(row, self._current_appointment(session, row.id))

    def find_by_key(self, idempotency_key: str) -> Escalation | None:
        with self._sessions() as session:
            row = session.execute(
                select(EscalationRow).where(EscalationRow.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            if row is None:
                return None
            return _escalation_from_row(row, self._current_appointment(session, row.id))

    def list(
        self,
        status: Status | None = None,
        priority: Priority | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[Escalation]:
        """Emergency first, then urgent, then routine; oldest first within a priority."""
        rank = case(
            {p: n for p, n in PRIORITY_ORDER.items()}, value=EscalationRow.priority, else_=9
        )
        query = select(EscalationRow).order_by(rank, EscalationRow.created_at, EscalationRow.id)
        if status is not None:
            query = query.where(EscalationRow.status == status)
        if priority is not None:
            query = query.where(EscalationRow.priority == priority)
        if limit is not None:
            query = query.limit(limit).offset(offset)
        with self._sessions() as session:
            rows = builtins.list(session.execute(query).scalars())
            booked = self._booked_by_escalation(session, [r.id for r in rows])
            return [_escalation_from_row(r, booked.get(r.id)) for r in rows]

    def events(self, escalation_id: str) -> builtins.list[EscalationEvent]:
        with self._sessions() as session:
            if session.get(EscalationRow, escalation_id) is None:
                raise UnknownEscalationError(f"there is no escalation {escalation_id}")
            rows = session.execute(
                select(EscalationEventRow)
                .where(EscalationEventRow.escalation_id == escalation_id)
                .order_by(EscalationEventRow.id)
            ).scalars()
            return [
                EscalationEvent(
                    escalation_id=r.escalation_id,
                    at=r.at,
                    from_status=r.from_status,
                    to_status=r.to_status,
                    actor=r.actor,
                    note=r.note,
                )
                for r in rows
            ]

    def appointments_of(self, escalation_id: str) -> builtins.list[Appointment]:
        """Every appointment ever made for the escalation, booked or cancelled, in order."""
        with self._sessions() as session:
            rows = session.execute(
                select(AppointmentRow)
                .where(AppointmentRow.escalation_id == escalation_id)
                .order_by(AppointmentRow.created_at, AppointmentRow.id)
            ).scalars()
            return [appointment_from_row(r) for r in rows]

    # writing

    def create(self, new: NewEscalation, actor: str = SYSTEM_ACTOR) -> tuple[Escalation, bool]:
        """Store a new open escalation; with a known idempotency key, return the stored one.

        Returns the escalation and whether it was created now.
        """
        if new.idempotency_key is not None:
            existing = self.find_by_key(new.idempotency_key)
            if existing is not None:
                return existing, False
        merge_key = open_key(new)
        if merge_key is not None:
            merged = self._add_turn(merge_key, new.question)
            if merged is not None:
                return merged, False
        now = self._clock()
        row = EscalationRow(
            id=new_id(),
            created_at=now,
            updated_at=now,
            patient_id=new.patient_id,
            question=new.question,
            conversation=[dict(t) for t in new.conversation],
            passages=[p.model_dump(mode="json") for p in new.passages],
            confidence=new.confidence,
            red_flag_rule=new.red_flag_rule,
            reason=new.reason,
            priority=new.priority,
            status="open",
            needs_attention=False,
            attention_reason=None,
            idempotency_key=new.idempotency_key,
            conversation_id=new.conversation_id,
            open_key=merge_key,
            turn_count=1,
        )
        try:
            with self._sessions() as session, session.begin():
                session.add(row)
                session.flush()
                session.add(
                    EscalationEventRow(
                        escalation_id=row.id,
                        at=now,
                        from_status=None,
                        to_status="open",
                        actor=actor,
                        note=new.reason,
                    )
                )
        except IntegrityError:
            # Another caller created it (same idempotency key, or the same open subject and
            # reason) between our look-up and insert.
            existing = self.find_by_key(new.idempotency_key) if new.idempotency_key else None
            if existing is not None:
                return existing, False
            merged = self._add_turn(merge_key, new.question) if merge_key else None
            if merged is None:
                raise
            return merged, False
        return self.get(row.id), True

    def _add_turn(self, merge_key: str, question: str) -> Escalation | None:
        """Add a later turn to the open escalation holding ``merge_key``, if there is one."""
        with self._sessions() as session, session.begin():
            # The counting UPDATE comes first: it takes the write lock, so the read and
            # rewrite of the conversation below cannot interleave with another writer's.
            changed = session.execute(
                update(EscalationRow)
                .where(EscalationRow.open_key == merge_key)
                .values(turn_count=EscalationRow.turn_count + 1, updated_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.execute(
                select(EscalationRow)
                .where(EscalationRow.open_key == merge_key)
                .execution_options(populate_existing=True)
            ).scalar_one()
            entries = [*row.conversation, {"role": "patient", "text": question}]
            row.conversation = entries[-MAX_CONVERSATION_ENTRIES:]
            escalation_id = row.id
        return self.get(escalation_id)

    def transition(
        self, escalation_id: str, target: Status, actor: str, note: str | None = None
    ) -> Escalation:
        """Change the status (if legal) and record who did it."""
        with self._sessions() as session:
            self._transition(session, escalation_id, target, actor, note)
            self._audited(session, escalation_id, actor, f"escalation.{target}")
            session.commit()
        return self.get(escalation_id)

    def record_booking(
        self,
        escalation_id: str,
        appointment: Appointment,
        actor: str,
        note: str | None = None,
        clear_reasons: Iterable[str] = (),
    ) -> Escalation:
        """Mark the escalation booked with ``appointment``, in one transaction.

        The appointment row is stored unless the scheduler stored it already (the built-in
        one does; an external one such as FHIR does not, so a copy is kept here).
        """
        with self._sessions() as session:
            # The escalation's row stays locked until the booking is recorded (PostgreSQL;
            # SQLite has one writer anyway): a request and a recovery in other processes
            # recording a booking for it at once take turns, and the second sees the first.
            recorded = session.execute(
                select(EscalationRow.status, EscalationRow.appointment_id)
                .where(EscalationRow.id == escalation_id)
                .with_for_update()
            ).first()
            stored = session.get(AppointmentRow, appointment.id)
            if recorded is not None and tuple(recorded) == ("booked", appointment.id):
                return self.get(escalation_id)  # a retry of a booking already recorded
            self._transition(session, escalation_id, "booked", actor, note)
            session.execute(
                update(EscalationRow)
                .where(EscalationRow.id == escalation_id)
                .values(appointment_id=appointment.id)
                .execution_options(synchronize_session=False)
            )
            if stored is None:
                session.add(
                    AppointmentRow(
                        id=appointment.id,
                        escalation_id=escalation_id,
                        clinician_id=appointment.clinician_id,
                        clinician_name=appointment.clinician_name,
                        start=appointment.start,
                        end=appointment.end,
                        status=appointment.status,
                        external_ref=appointment.external_ref,
                        slot_key=None,
                        idempotency_key=None,
                        created_at=self._clock(),
                    )
                )
            drop = builtins.list(clear_reasons)
            if drop:
                row = session.get(EscalationRow, escalation_id, populate_existing=True)
                assert row is not None
                row.attention_reason = _drop_reasons(row.attention_reason, drop)
                row.needs_attention = row.attention_reason is not None
            self._audited(session, escalation_id, actor, "escalation.booked")
            session.commit()
        return self.get(escalation_id)

    def mark_appointment_cancelled(self, appointment_id: str) -> None:
        """Record locally that an appointment is cancelled (frees its slot key)."""
        with self._sessions() as session:
            session.execute(
                update(AppointmentRow)
                .where(AppointmentRow.id == appointment_id)
                .values(status="cancelled", slot_key=None)
            )
            session.commit()

    def mark_attention(
        self, escalation_id: str, reason: str, actor: str = SYSTEM_ACTOR
    ) -> Escalation:
        """Flag the escalation for a coordinator's attention, keeping earlier reasons."""
        with self._sessions() as session:
            row = session.get(EscalationRow, escalation_id, with_for_update=True)
            if row is None:
                raise UnknownEscalationError(f"there is no escalation {escalation_id}")
            row.needs_attention = True
            row.attention_reason = _join_reasons(row.attention_reason, reason)
            row.updated_at = self._clock()
            session.add(
                EscalationEventRow(
                    escalation_id=escalation_id,
                    at=row.updated_at,
                    from_status=row.status,
                    to_status=row.status,
                    actor=actor,
                    note=f"needs attention: {reason}",
                )
            )
            self._audited(session, escalation_id, actor, "escalation.attention")
            session.commit()
        return self.get(escalation_id)

    def clear_attention(self, escalation_id: str, reasons: Iterable[str]) -> None:
        """Withdraw the given attention reasons (e.g. once a booking went through)."""
        with self._sessions() as session:
            row = session.get(EscalationRow, escalation_id, with_for_update=True)
            if row is None:
                raise UnknownEscalationError(f"there is no escalation {escalation_id}")
            row.attention_reason = _drop_reasons(row.attention_reason, reasons)
            row.needs_attention = row.attention_reason is not None
            session.commit()

    # recovery after a crash

    def mark_alerted(self, escalation_id: str) -> None:
        """Record that the escalation's "created" alert is queued (it is finished)."""
        with self._sessions() as session:
            session.execute(
                update(EscalationRow)
                .where(EscalationRow.id == escalation_id, EscalationRow.alerted_at.is_(None))
                .values(alerted_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def unalerted(self, created_before: datetime) -> builtins.list[Escalation]:
        """Escalations whose "created" alert was never queued (a crash came first)."""
        with self._sessions() as session:
            rows = builtins.list(
                session.execute(
                    select(EscalationRow)
                    .where(
                        EscalationRow.alerted_at.is_(None),
                        EscalationRow.created_at < created_before,
                    )
                    .order_by(EscalationRow.created_at, EscalationRow.id)
                ).scalars()
            )
            booked = self._booked_by_escalation(session, [r.id for r in rows])
            return [_escalation_from_row(r, booked.get(r.id)) for r in rows]

    def stray_appointments(
        self, created_before: datetime
    ) -> builtins.list[tuple[Appointment, Status, bool]]:
        """Booked appointments their escalation does not point to, with its status and
        whether it points to none (a crash between booking and recording it)."""
        with self._sessions() as session:
            rows = session.execute(
                select(AppointmentRow, EscalationRow.status, EscalationRow.appointment_id)
                .join(EscalationRow, EscalationRow.id == AppointmentRow.escalation_id)
                .where(
                    AppointmentRow.status == "booked",
                    AppointmentRow.created_at < created_before,
                    (EscalationRow.appointment_id.is_(None))
                    | (EscalationRow.appointment_id != AppointmentRow.id),
                )
                .order_by(AppointmentRow.created_at, AppointmentRow.id)
            ).all()
            return [
                (appointment_from_row(a), cast(Status, status), pointed is None)
                for a, status, pointed in rows
            ]

    # governance

    def of_patient(self, patient_id: str) -> builtins.list[Escalation]:
        """Every escalation of one patient, oldest first (for his data export)."""
        with self._sessions() as session:
            rows = builtins.list(
                session.execute(
                    select(EscalationRow)
                    .where(EscalationRow.patient_id == patient_id)
                    .order_by(EscalationRow.created_at)
                ).scalars()
            )
            booked = self._booked_by_escalation(session, [r.id for r in rows])
            return [_escalation_from_row(r, booked.get(r.id)) for r in rows]

    def erase_texts(
        self, *, patient_id: str | None = None, before: datetime | None = None
    ) -> builtins.list[str]:
        """Blank what patients said (question, conversation, passages, event notes).

        With ``patient_id``: all of that patient's escalations. With ``before``: closed
        (resolved or cancelled) escalations last changed before then; open ones are still
        being worked on. The rows stay (the book and the history need them). Returns the
        ids of the escalations changed.
        """
        query = select(EscalationRow.id).where(EscalationRow.question != ERASED)
        if patient_id is not None:
            query = query.where(EscalationRow.patient_id == patient_id)
        if before is not None:
            query = query.where(
                EscalationRow.updated_at < before,
                EscalationRow.status.in_(("resolved", "cancelled")),
            )
        with self._sessions() as session, session.begin():
            ids = builtins.list(session.execute(query).scalars())
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                session.execute(
                    update(EscalationRow)
                    .where(EscalationRow.id.in_(chunk))
                    .values(question=ERASED, conversation=[], passages=[])
                    .execution_options(synchronize_session=False)
                )
                session.execute(
                    update(EscalationEventRow)
                    .where(EscalationEventRow.escalation_id.in_(chunk))
                    .values(note=None)
                    .execution_options(synchronize_session=False)
                )
        return ids

    # internals

    def _transition(
        self, session: Session, escalation_id: str, target: Status, actor: str, note: str | None
    ) -> None:
        for _ in range(5):
            current = session.execute(
                select(EscalationRow.status).where(EscalationRow.id == escalation_id)
            ).scalar_one_or_none()
            if current is None:
                raise UnknownEscalationError(f"there is no escalation {escalation_id}")
            check_transition(escalation_id, current, target)  # type: ignore[arg-type]
            now = self._clock()
            changed = session.execute(
                update(EscalationRow)
                .where(EscalationRow.id == escalation_id, EscalationRow.status == current)
                .values(status=target, updated_at=now, **_closing(target))
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                session.add(
                    EscalationEventRow(
                        escalation_id=escalation_id,
                        at=now,
                        from_status=current,
                        to_status=target,
                        actor=actor,
                        note=note,
                    )
                )
                return
            session.rollback()
        raise IllegalTransitionError(
            f"escalation {escalation_id} kept changing while it was being set to {target}"
        )

    @staticmethod
    def _current_appointment(session: Session, escalation_id: str) -> Appointment | None:
        return EscalationRepository._booked_by_escalation(session, [escalation_id]).get(
            escalation_id
        )

    @staticmethod
    def _booked_by_escalation(session: Session, ids: builtins.list[str]) -> dict[str, Appointment]:
        """The current appointment of each escalation that still has a booked one."""
        found: dict[str, Appointment] = {}
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(AppointmentRow)
                .join(EscalationRow, EscalationRow.appointment_id == AppointmentRow.id)
                .where(
                    EscalationRow.id.in_(ids[start : start + 500]),
                    AppointmentRow.status == "booked",
                )
            ).scalars()
            for row in rows:
                found[row.escalation_id] = appointment_from_row(row)
        return found

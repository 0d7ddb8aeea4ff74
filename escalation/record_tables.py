"""Escalation tables on ``escalation.database.Base`` (the same on SQLite and PostgreSQL).

- ``escalations``: one row per hand-over to people, with what the patient asked and what
  the assistant found;
- ``escalation_events``: the history of each escalation (who changed what, when);
- ``appointments``: booked and cancelled appointments. ``slot_key`` (clinician and start)
  is UNIQUE and set to NULL on cancellation, so two booked appointments can never hold
  the same clinician at the same start, whichever process books them (NULLs never clash);
- ``availability`` and ``clinic_closures``: the care team's weekly hours and closed days,
  which the built-in scheduler generates its slots from (see ``escalation.scheduling``).

Times are stored as UTC (``UTCDateTime``) and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, get_args

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
)
from sqlalchemy.orm import Mapped, mapped_column

from escalation.database import Base
from escalation.record_models import (
    Appointment,
    AppointmentStatus,
    Escalation,
    Passage,
    Priority,
    Reason,
    Status,
)


def slot_key(clinician_id: str, start: datetime) -> str:
    """The value that makes a booked clinician-and-start unique."""
    return f"{clinician_id}|{start.astimezone(UTC).replace(tzinfo=None).isoformat()}Z"


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


# --- rows to models -------------------------------------------------------------------


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


def escalation_from_row(row: EscalationRow, appointment: Appointment | None) -> Escalation:
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

"""The escalation repository: escalations, their history and appointments, read and changed.

``EscalationRepository`` is the only code that writes the escalation tables
(``record_tables``); it returns the frozen models of ``record_models``. Status changes
follow ``LEGAL_TRANSITIONS``; staff changes are audited in the change's own transaction
(``AuditSink``); one open escalation per subject and reason is kept by a unique open key,
so repeated turns merge into it whichever process writes them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from escalation.errors import IllegalTransitionError, UnknownEscalationError
from escalation.record_models import (
    ERASED,
    MAX_CONVERSATION_ENTRIES,
    PRIORITY_ORDER,
    SYSTEM_ACTOR,
    Appointment,
    Escalation,
    EscalationEvent,
    NewEscalation,
    Passage,
    Priority,
    Status,
    check_transition,
    new_id,
    open_key,
)
from escalation.record_tables import (
    AppointmentRow,
    EscalationEventRow,
    EscalationRow,
    appointment_from_row,
    escalation_from_row,
)

# The repository's own API: it takes and returns these models, so callers that only use
# the repository may import them from here.
__all__ = [
    "AuditSink",
    "Escalation",
    "EscalationRepository",
    "NewEscalation",
    "Passage",
]


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
            return escalation_from_row(row, self._current_appointment(session, row.id))

    def find_by_key(self, idempotency_key: str) -> Escalation | None:
        with self._sessions() as session:
            row = session.execute(
                select(EscalationRow).where(EscalationRow.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            if row is None:
                return None
            return escalation_from_row(row, self._current_appointment(session, row.id))

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
            return [escalation_from_row(r, booked.get(r.id)) for r in rows]

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
            return [escalation_from_row(r, booked.get(r.id)) for r in rows]

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
            return [escalation_from_row(r, booked.get(r.id)) for r in rows]

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

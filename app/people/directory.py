"""Staff keys, registered patients and the audit trail, over the deployment's database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.errors import (
    ForbiddenError,
    NotAuthenticatedError,
    PatientExistsError,
    UnknownPatientError,
)
from app.people.audit import GENESIS, ChainReport, row_hash, verify_chain
from app.people.security import hash_key, new_key
from app.people.tables import AuditRow, PageTokenRow, PatientRow, StaffKeyRow

Outcome = Literal["allowed", "denied"]
# last_used_at is written at most this often per key (one write per request is too many).
LAST_USED_EVERY = timedelta(minutes=1)

Role = Literal["coordinator", "clinician", "admin"]
ROLES: tuple[Role, ...] = ("coordinator", "clinician", "admin")
CONTACT_CHANNELS = ("phone", "sms", "email")


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"staff:{self.id}"


@dataclass(frozen=True)
class Patient:
    id: str
    display_name: str
    surgery_date: date | None
    approach: str | None
    catheter_out_on: date | None
    phone: str | None = None
    date_of_birth: date | None = None
    preferred_contact: str | None = None

    def recovery_stage(self, today: date) -> str | None:
        """A short description for composers: days (then weeks) since surgery and whether
        the catheter is still in."""
        if not self.surgery_date:
            return None
        days = (today - self.surgery_date).days
        approach = f"{self.approach} " if self.approach else ""
        when = f"day {days}" if days < 28 else f"{days // 7} weeks"
        parts = [f"{when} after {approach}surgery"]
        if self.catheter_out_on and self.catheter_out_on <= today:
            parts.append(f"catheter out since {self.catheter_out_on.isoformat()}")
        elif self.catheter_out_on:
            parts.append(f"catheter still in, due out {self.catheter_out_on.isoformat()}")
        return ", ".join(parts)


class People:
    """Who may do what, and who looked at which patient's data."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- staff keys -----------------------------------------------------------------------

    def add_staff(
        self, name: str, role: Role, expires_in_days: int | None = None, actor: str = "cli"
    ) -> tuple[StaffMember, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if expires_in_days is not None and expires_in_days < 1:
            raise ValueError("a staff key must live at least one day")
        key = new_key("acs")
        now = self._clock()
        row = StaffKeyRow(
            id=uuid.uuid4().hex[:12],
            name=name,
            role=role,
            key_hash=hash_key(key),
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        with self._sessions.begin() as session:
            session.add(row)
            self._append(session, actor, "staff.create", f"staff:{row.id}", None, role)
        return _member(row), key

    def list_staff(self) -> list[StaffMember]:
        with self._sessions() as session:
            rows = session.scalars(select(StaffKeyRow).order_by(StaffKeyRow.created_at))
            return [_member(row) for row in rows]

    def revoke_staff(self, staff_id: str, actor: str = "cli") -> StaffMember:
        with self._sessions.begin() as session:
            row = session.get(StaffKeyRow, staff_id)
            if row is None:
                raise ValueError(f"there is no staff key '{staff_id}'")
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            self._append(session, actor, "staff.revoke", f"staff:{row.id}", None)
            return _member(row)

    def staff_for_key(
        self, key: str | None, allowed: tuple[str, ...], source: str | None = None
    ) -> StaffMember:
        if not key:
            self.audit("unknown", "staff.auth", "staff", None, "no key", "denied", source=source)
            raise NotAuthenticatedError("a staff key is required")
        now = self._clock()
        with self._sessions() as session:
            row = session.scalar(select(StaffKeyRow).where(StaffKeyRow.key_hash == hash_key(key)))
        problem = None
        if row is None:
            problem = "unknown key"
        elif row.revoked_at is not None:
            problem = "revoked key"
        elif row.expires_at is not None and _aware(row.expires_at) <= now:
            problem = "expired key"
        if row is None or problem is not None:
            self.audit(
                f"staff:{row.id}" if row else "unknown",
                "staff.auth",
                "staff",
                None,
                problem or "",
                "denied",
                key_id=row.id if row else None,
                source=source,
            )
            raise NotAuthenticatedError("this staff key is not valid")
        member = _member(row)
        if row.role not in allowed and row.role != "admin":
            self.audit(member.actor, "staff.auth", "staff", None, "role", "denied", row.id, source)
            raise ForbiddenError(f"the {row.role} role may not do this")
        if row.last_used_at is None or now - _aware(row.last_used_at) >= LAST_USED_EVERY:
            with self._sessions.begin() as session:
                stored = session.get(StaffKeyRow, row.id)
                if stored is not None:
                    stored.last_used_at = now
        return member

    # -- patients -------------------------------------------------------------------------

    def add_patient(
        self,
        patient_id: str,
        display_name: str,
        surgery_date: date | None = None,
        approach: str | None = None,
        catheter_out_on: date | None = None,
        actor: str = "cli",
        *,
        phone: str | None = None,
        date_of_birth: date | None = None,
        preferred_contact: str | None = None,
    ) -> tuple[Patient, str]:
        """``phone`` must already be E.164 (``app.channels.platforms.phone_numbers.to_e164``)."""
        if preferred_contact is not None and preferred_contact not in CONTACT_CHANNELS:
            raise ValueError(f"preferred contact must be one of {', '.join(CONTACT_CHANNELS)}")
        if phone is not None and not phone.startswith("+"):
            raise ValueError("the phone number must be in E.164 form, e.g. +441223000000")
        key = new_key("acp")
        row = PatientRow(
            id=patient_id,
            display_name=display_name,
            surgery_date=surgery_date,
            approach=approach,
            catheter_out_on=catheter_out_on,
            phone=phone,
            date_of_birth=date_of_birth,
            preferred_contact=preferred_contact,
            key_hash=hash_key(key),
            created_at=self._clock(),
        )
        with self._sessions.begin() as session:
            if session.get(PatientRow, patient_id) is not None:
                raise PatientExistsError(f"a patient with id '{patient_id}' already exists")
            session.add(row)
            self._append(session, actor, "patient.create", "patient", patient_id)
        return _patient(row), key

    def update_patient(self, patient: Patient, actor: str) -> list[str]:
        """Store ``patient``'s fields over his record; returns the names of those that changed.

        ``phone`` must already be E.164. The audit names the changed fields, not their values.
        """
        if patient.preferred_contact is not None and (
            patient.preferred_contact not in CONTACT_CHANNELS
        ):
            raise ValueError(f"preferred contact must be one of {', '.join(CONTACT_CHANNELS)}")
        if patient.phone is not None and not patient.phone.startswith("+"):
            raise ValueError("the phone number must be in E.164 form, e.g. +441223000000")
        values = {
            "display_name": patient.display_name,
            "surgery_date": patient.surgery_date,
            "approach": patient.approach,
            "catheter_out_on": patient.catheter_out_on,
            "phone": patient.phone,
            "date_of_birth": patient.date_of_birth,
            "preferred_contact": patient.preferred_contact,
        }
        with self._sessions.begin() as session:
            row = session.get(PatientRow, patient.id)
            if row is None:
                raise UnknownPatientError(patient.id)
            changed = [name for name, value in values.items() if getattr(row, name) != value]
            for name in changed:
                setattr(row, name, values[name])
            if changed:
                self._append(
                    session, actor, "patient.update", "patient", patient.id, ",".join(changed)
                )
        return changed

    def rotate_patient_key(self, patient_id: str, actor: str = "cli") -> str:
        """A new key for the patient; the old one stops working at once."""
        key = new_key("acp")
        with self._sessions.begin() as session:
            row = session.get(PatientRow, patient_id)
            if row is None:
                raise UnknownPatientError(patient_id)
            row.key_hash = hash_key(key)
            row.key_rotated_at = self._clock()
            self._append(session, actor, "patient.rotate_key", "patient", patient_id)
        return key

    def patient(self, patient_id: str) -> Patient:
        with self._sessions() as session:
            row = session.get(PatientRow, patient_id)
        if row is None:
            raise UnknownPatientError(patient_id)
        return _patient(row)

    def patients_by_phone(self, phone: str) -> list[Patient]:
        """Patients registered with this E.164 number."""
        with self._sessions() as session:
            rows = session.scalars(select(PatientRow).where(PatientRow.phone == phone)).all()
        return [_patient(row) for row in rows]

    def patient_for_key(
        self, patient_id: str, key: str | None, source: str | None = None
    ) -> Patient:
        """The patient, if ``key`` is theirs (or a page session token of theirs).

        Unknown ids and wrong keys look alike; every failure is audited.
        """
        if not key:
            self.audit(
                f"patient:{patient_id}",
                "patient.auth",
                "patient",
                None,
                "no key",
                "denied",
                source=source,
            )
            raise NotAuthenticatedError("a patient key is required to ask as a known patient")
        now = self._clock()
        hashed = hash_key(key)
        with self._sessions() as session:
            row = session.get(PatientRow, patient_id)
            token = session.get(PageTokenRow, hashed)
        by_token = (
            token is not None
            and token.kind == "session"
            and token.patient_id == patient_id
            and _aware(token.expires_at) > now
        )
        if row is None or (row.key_hash != hashed and not by_token):
            self.audit(
                f"patient:{patient_id}",
                "patient.auth",
                "patient",
                None,
                "wrong key",
                "denied",
                source=source,
            )
            raise NotAuthenticatedError("this patient key does not match the patient id")
        if row.last_used_at is None or now - _aware(row.last_used_at) >= LAST_USED_EVERY:
            with self._sessions.begin() as session:
                stored = session.get(PatientRow, patient_id)
                if stored is not None:
                    stored.last_used_at = now
        return _patient(row)

    # -- page links -----------------------------------------------------------------------

    def link_code(self, patient_id: str, ttl_s: float, actor: str = "cli") -> str:
        """A one-time code for the patient's page address (exchanged for a session token)."""
        code = new_key("acl")
        now = self._clock()
        with self._sessions.begin() as session:
            if session.get(PatientRow, patient_id) is None:
                raise UnknownPatientError(patient_id)
            session.add(
                PageTokenRow(
                    token_hash=hash_key(code),
                    kind="link",
                    patient_id=patient_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_s),
                )
            )
            self._append(session, actor, "patient.link", "patient", patient_id)
        return code

    def exchange_link(
        self, code: str, ttl_s: float, source: str | None = None
    ) -> tuple[Patient, str]:
        """Spend a link code (once) for a session token the page then presents."""
        now = self._clock()
        token = new_key("act")
        with self._sessions.begin() as session:
            row = session.get(PageTokenRow, hash_key(code)) if code else None
            if (
                row is None
                or row.kind != "link"
                or row.used_at is not None
                or _aware(row.expires_at) <= now
            ):
                row = None
            else:
                row.used_at = now
                session.add(
                    PageTokenRow(
                        token_hash=hash_key(token),
                        kind="session",
                        patient_id=row.patient_id,
                        created_at=now,
                        expires_at=now + timedelta(seconds=ttl_s),
                    )
                )
                self._append(
                    session,
                    f"patient:{row.patient_id}",
                    "patient.session",
                    "patient",
                    row.patient_id,
                    source=source,
                )
                patient_id = row.patient_id
        if row is None:
            self.audit(
                "unknown",
                "patient.session",
                "patient",
                None,
                "bad link code",
                "denied",
                source=source,
            )
            raise NotAuthenticatedError("this link is not valid any more; ask for a new one")
        return self.patient(patient_id), token

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        resource: str,
        patient_id: str | None,
        detail: str = "",
        outcome: Outcome = "allowed",
        key_id: str | None = None,
        source: str | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            self._append(
                session, actor, action, resource, patient_id, detail, outcome, key_id, source
            )

    async def audit_async(
        self,
        actor: str,
        action: str,
        resource: str,
        patient_id: str | None,
        detail: str = "",
        outcome: Outcome = "allowed",
        key_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """``audit`` off the event loop."""
        await asyncio.to_thread(
            self.audit, actor, action, resource, patient_id, detail, outcome, key_id, source
        )

    @contextmanager
    def audited(
        self, actor: str, action: str, resource: str, patient_id: str | None, detail: str = ""
    ) -> Iterator[Session]:
        """A transaction whose change and audit row commit together (or not at all)."""
        with self._sessions.begin() as session:
            yield session
            self._append(session, actor, action, resource, patient_id, detail)

    def append(
        self, session: Session, actor: str, action: str, resource: str, patient_id: str | None
    ) -> None:
        """An audit row in the caller's transaction (``escalation.records.AuditSink``)."""
        key_id = actor.removeprefix("staff:") if actor.startswith("staff:") else None
        self._append(session, actor, action, resource, patient_id, key_id=key_id)

    def _append(
        self,
        session: Session,
        actor: str,
        action: str,
        resource: str,
        patient_id: str | None,
        detail: str = "",
        outcome: Outcome = "allowed",
        key_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """Add one chained audit row to ``session``'s transaction.

        The row is inserted first (on SQLite that takes the database's write lock, held to
        the commit; on PostgreSQL an advisory lock does the same), then chained to the row
        before it, so two writers never chain to the same row.
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        row = AuditRow(
            at=self._clock(),
            actor=actor[:120],
            action=action[:80],
            patient_id=patient_id,
            resource=resource[:200],
            detail=detail,
            outcome=outcome,
            key_id=key_id,
            source=(source or None) and source[:64],
        )
        session.add(row)
        session.flush()
        previous = session.scalar(
            select(AuditRow.row_hash)
            .where(AuditRow.id < row.id)
            .order_by(AuditRow.id.desc())
            .limit(1)
        )
        row.prev_hash = previous or GENESIS
        row.row_hash = row_hash(row, row.prev_hash)
        session.flush()

    def audit_trail(self, patient_id: str | None = None, limit: int = 200) -> list[AuditRow]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if patient_id:
                query = query.where(AuditRow.patient_id == patient_id)
            return list(session.scalars(query))

    def verify_audit(self) -> ChainReport:
        with self._sessions() as session:
            return verify_chain(session.scalars(select(AuditRow).order_by(AuditRow.id)))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _member(row: StaffKeyRow) -> StaffMember:
    return StaffMember(
        row.id,
        row.name,
        row.role,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _patient(row: PatientRow) -> Patient:
    return Patient(
        row.id,
        row.display_name,
        row.surgery_date,
        row.approach,
        row.catheter_out_on,
        phone=row.phone,
        date_of_birth=row.date_of_birth,
        preferred_contact=row.preferred_contact,
    )

"""Staff keys, registered patients and the audit trail, over the deployment's database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import (
    ForbiddenError,
    NotAuthenticatedError,
    PatientExistsError,
    UnknownPatientError,
)
from app.records import AuditRow, PatientRow, StaffKeyRow
from app.security import hash_key, new_key

Role = Literal["coordinator", "clinician", "admin"]
ROLES: tuple[Role, ...] = ("coordinator", "clinician", "admin")
CONTACT_CHANNELS = ("phone", "sms", "email")


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str

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

    def add_staff(self, name: str, role: Role) -> tuple[StaffMember, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key = new_key("acs")
        row = StaffKeyRow(
            id=uuid.uuid4().hex[:12],
            name=name,
            role=role,
            key_hash=hash_key(key),
            created_at=self._clock(),
        )
        with self._sessions.begin() as session:
            session.add(row)
        return StaffMember(row.id, row.name, row.role), key

    def staff_for_key(self, key: str | None, allowed: tuple[str, ...]) -> StaffMember:
        if not key:
            raise NotAuthenticatedError("a staff key is required")
        with self._sessions() as session:
            row = session.scalar(select(StaffKeyRow).where(StaffKeyRow.key_hash == hash_key(key)))
        if row is None or row.revoked_at is not None:
            raise NotAuthenticatedError("this staff key is not valid")
        member = StaffMember(row.id, row.name, row.role)
        if row.role not in allowed and row.role != "admin":
            raise ForbiddenError(f"the {row.role} role may not do this")
        return member

    def add_patient(
        self,
        patient_id: str,
        display_name: str,
        surgery_date: date | None = None,
        approach: str | None = None,
        catheter_out_on: date | None = None,
        *,
        phone: str | None = None,
        date_of_birth: date | None = None,
        preferred_contact: str | None = None,
    ) -> tuple[Patient, str]:
        """``phone`` must already be E.164 (``app.phone_numbers.to_e164``)."""
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
        return _patient(row), key

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

    def patient_for_key(self, patient_id: str, key: str | None) -> Patient:
        """The patient, if ``key`` is theirs. Unknown ids and wrong keys look alike."""
        if not key:
            raise NotAuthenticatedError("a patient key is required to ask as a known patient")
        with self._sessions() as session:
            row = session.get(PatientRow, patient_id)
        if row is None or row.key_hash != hash_key(key):
            raise NotAuthenticatedError("this patient key does not match the patient id")
        return _patient(row)

    def audit(
        self, actor: str, action: str, resource: str, patient_id: str | None, detail: str = ""
    ) -> None:
        with self._sessions.begin() as session:
            session.add(
                AuditRow(
                    at=self._clock(),
                    actor=actor,
                    action=action,
                    patient_id=patient_id,
                    resource=resource,
                    detail=detail,
                )
            )

    def audit_trail(self, patient_id: str | None = None, limit: int = 200) -> list[AuditRow]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if patient_id:
                query = query.where(AuditRow.patient_id == patient_id)
            return list(session.scalars(query))


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

"""Registering and editing a patient from staff input: his number read in the clinic's
country, the whole record validated after every change."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from app.channels.platforms.phone_numbers import to_e164
from app.channels.schemas_patients import NewPatient, PatientChanges
from app.people.directory import Patient, People
from escalation.clinic import ClinicConfig


class HasPeople(Protocol):
    @property
    def people(self) -> People: ...
    @property
    def clinic(self) -> ClinicConfig: ...


def register_patient(services: HasPeople, new: NewPatient) -> tuple[Patient, str]:
    phone = to_e164(new.phone, services.clinic.country) if new.phone else None
    return services.people.add_patient(
        new.id,
        new.name,
        new.surgery_date,
        new.surgery_type,
        new.catheter_out_on,
        phone=phone,
        date_of_birth=new.date_of_birth,
        preferred_contact=new.preferred_contact,
    )


def update_patient(
    services: HasPeople, patient_id: str, changes: PatientChanges, actor: str
) -> tuple[Patient, list[str]]:
    """Apply a staff edit; raises ``pydantic.ValidationError`` when the result is invalid."""
    current = services.people.patient(patient_id)
    record = changes.applied_to(current)
    phone = to_e164(record.phone, services.clinic.country) if record.phone else None
    updated = dataclasses.replace(
        current,
        display_name=record.name,
        surgery_date=record.surgery_date,
        approach=record.surgery_type,
        catheter_out_on=record.catheter_out_on,
        phone=phone,
        date_of_birth=record.date_of_birth,
        preferred_contact=record.preferred_contact,
    )
    changed = services.people.update_patient(updated, actor)
    return updated, changed

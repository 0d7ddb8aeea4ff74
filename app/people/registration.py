"""Registering a patient from staff input: his number read in the clinic's country."""

from __future__ import annotations

from typing import Protocol

from app.channels.platforms.phone_numbers import to_e164
from app.channels.schemas_patients import NewPatient
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

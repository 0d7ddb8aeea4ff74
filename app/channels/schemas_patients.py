"""Patient records as staff set them (API and CLI) and as staff read them."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.people.directory import Patient

SurgeryType = Literal["robotic", "laparoscopic", "open"]
ContactChannel = Literal["phone", "sms", "email"]


class NewPatient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(
        default=None, max_length=40, description="Any common form; stored as E.164."
    )
    date_of_birth: date | None = None
    surgery_date: date | None = None
    surgery_type: SurgeryType | None = None
    catheter_out_on: date | None = None
    preferred_contact: ContactChannel | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> NewPatient:
        if self.date_of_birth and self.date_of_birth >= date.today():
            raise ValueError("the date of birth must be in the past")
        if self.date_of_birth and self.surgery_date and self.surgery_date <= self.date_of_birth:
            raise ValueError("the surgery date must be after the date of birth")
        if self.surgery_date and self.catheter_out_on and self.catheter_out_on < self.surgery_date:
            raise ValueError("the catheter cannot come out before the surgery")
        return self


class PatientChanges(BaseModel):
    """A staff edit: only the fields sent change; ``null`` clears one (not the name)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(
        default=None, max_length=40, description="Any common form; stored as E.164."
    )
    date_of_birth: date | None = None
    surgery_date: date | None = None
    surgery_type: SurgeryType | None = None
    catheter_out_on: date | None = None
    preferred_contact: ContactChannel | None = None

    @model_validator(mode="after")
    def _name_kept(self) -> PatientChanges:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("the name cannot be removed")
        return self

    def applied_to(self, patient: Patient) -> NewPatient:
        """The whole record after the change, validated as a new one would be."""
        current = PatientPublic.of(patient).model_dump()
        current.update(self.model_dump(include=self.model_fields_set))
        return NewPatient.model_validate(current)


class PatientPublic(BaseModel):
    id: str
    name: str
    phone: str | None
    date_of_birth: date | None
    surgery_date: date | None
    surgery_type: str | None
    catheter_out_on: date | None
    preferred_contact: str | None

    @classmethod
    def of(cls, patient: Patient) -> PatientPublic:
        return cls(
            id=patient.id,
            name=patient.display_name,
            phone=patient.phone,
            date_of_birth=patient.date_of_birth,
            surgery_date=patient.surgery_date,
            surgery_type=patient.approach,
            catheter_out_on=patient.catheter_out_on,
            preferred_contact=patient.preferred_contact,
        )


class RegisteredPatient(PatientPublic):
    key: str = Field(description="The patient's own key: shown once.")

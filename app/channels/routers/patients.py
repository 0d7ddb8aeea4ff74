"""Patients: staff register and read records; page sessions; export and erasure of one
patient's data."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.channels.deps import AddressDep, AdminDep, CoordinatorDep, ServicesDep
from app.channels.schemas_patients import (
    NewPatient,
    PatientChanges,
    PatientPublic,
    RegisteredPatient,
)
from app.errors import NotAuthenticatedError
from app.people.governance import erase_patient, export_patient
from app.people.registration import register_patient, update_patient

router = APIRouter(prefix="/v1", tags=["patients"])


class LinkExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200)


@router.post("/session")
async def exchange_link(
    body: LinkExchange, services: ServicesDep, address: AddressDep
) -> dict[str, Any]:
    """The patient's page trades its one-time link code for a session token (by POST, so
    the token never sits in an address)."""
    services.limits.refuse_if_over("auth_failures", address)
    ttl = services.settings.security.session_ttl_s
    try:
        patient, token = await asyncio.to_thread(
            services.people.exchange_link, body.code, ttl, address
        )
    except NotAuthenticatedError:
        services.limits.hit("auth_failures", address)
        raise
    return {"patient_id": patient.id, "token": token, "expires_in": int(ttl)}


@router.post("/patients/{patient_id}/link")
async def make_link(
    patient_id: str, services: ServicesDep, staff: CoordinatorDep
) -> dict[str, Any]:
    """A one-time link for the patient's page (give it to him; it works once)."""
    ttl = services.settings.security.link_code_ttl_s
    code = await asyncio.to_thread(services.people.link_code, patient_id, ttl, staff.actor)
    base = services.settings.escalation.public_base_url.rstrip("/")
    return {"code": code, "url": f"{base}/?code={code}", "expires_in": int(ttl)}


@router.get("/patients/{patient_id}/export")
async def export(
    patient_id: str, services: ServicesDep, staff: AdminDep, address: AddressDep
) -> dict[str, Any]:
    return await export_patient(services, patient_id, staff.actor, address)


@router.delete("/patients/{patient_id}")
async def erase(
    patient_id: str, services: ServicesDep, staff: AdminDep, address: AddressDep
) -> dict[str, int]:
    return await erase_patient(services, patient_id, staff.actor, address)


@router.post("/patients", response_model=RegisteredPatient, status_code=201)
async def add_patient(
    body: NewPatient, services: ServicesDep, staff: CoordinatorDep
) -> RegisteredPatient:
    patient, key = await asyncio.to_thread(register_patient, services, body)
    services.people.audit(staff.actor, "patients.add", f"patient:{patient.id}", patient.id)
    return RegisteredPatient(**PatientPublic.of(patient).model_dump(), key=key)


@router.get("/patients/{patient_id}", response_model=PatientPublic)
async def get_patient(
    patient_id: str, services: ServicesDep, staff: CoordinatorDep
) -> PatientPublic:
    patient = await asyncio.to_thread(services.people.patient, patient_id)
    services.people.audit(staff.actor, "patients.read", f"patient:{patient.id}", patient.id)
    return PatientPublic.of(patient)


@router.patch("/patients/{patient_id}", response_model=PatientPublic)
async def edit_patient(
    patient_id: str, body: PatientChanges, services: ServicesDep, staff: CoordinatorDep
) -> PatientPublic:
    """Change some of a patient's details; the record must stay valid as a whole."""
    try:
        patient, _ = await asyncio.to_thread(
            update_patient, services, patient_id, body, staff.actor
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    return PatientPublic.of(patient)

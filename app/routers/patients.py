"""POST /v1/patients, GET /v1/patients/{id}: staff register and read patient records."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CoordinatorDep, ServicesDep
from app.patient_records import register_patient
from app.schemas_patients import NewPatient, PatientPublic, RegisteredPatient

router = APIRouter(prefix="/v1", tags=["coordinators"])


@router.post("/patients", response_model=RegisteredPatient, status_code=201)
async def add_patient(
    body: NewPatient, services: ServicesDep, staff: CoordinatorDep
) -> RegisteredPatient:
    patient, key = register_patient(services, body)
    services.people.audit(staff.actor, "patients.add", f"patient:{patient.id}", patient.id)
    return RegisteredPatient(**PatientPublic.of(patient).model_dump(), key=key)


@router.get("/patients/{patient_id}", response_model=PatientPublic)
async def get_patient(
    patient_id: str, services: ServicesDep, staff: CoordinatorDep
) -> PatientPublic:
    patient = services.people.patient(patient_id)
    services.people.audit(staff.actor, "patients.read", f"patient:{patient.id}", patient.id)
    return PatientPublic.of(patient)

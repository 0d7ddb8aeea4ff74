"""The coordinator API: the escalation queue, staff actions, the appointment book.

Every call needs a staff key with the coordinator role. Reads are audited here; changes
are audited by the escalation repository in the change's own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.channels.deps import CoordinatorDep, ServicesDep
from app.channels.schemas_staff import (
    AppointmentPublic,
    EscalationPublic,
    EventPublic,
    RescheduleBody,
    ResolveBody,
)
from app.people.directory import StaffMember
from app.services import Services
from escalation.record_models import Appointment, Escalation

router = APIRouter(prefix="/v1", tags=["coordinators"])

StatusFilter = Literal["open", "acknowledged", "booked", "resolved", "cancelled"]
PriorityFilter = Literal["routine", "urgent", "emergency"]


def _appointment(appointment: Appointment) -> AppointmentPublic:
    return AppointmentPublic(
        id=appointment.id,
        escalation_id=appointment.escalation_id,
        clinician_id=appointment.clinician_id,
        clinician_name=appointment.clinician_name,
        start=appointment.start,
        end=appointment.end,
        status=appointment.status,
    )


async def _public(services: Services, escalation: Escalation) -> EscalationPublic:
    events = await services.escalations.history(escalation.id)
    return EscalationPublic(
        id=escalation.id,
        created_at=escalation.created_at,
        updated_at=escalation.updated_at,
        patient_id=escalation.patient_id,
        question=escalation.question,
        conversation=list(escalation.conversation),
        passages=[p.model_dump() for p in escalation.passages],
        confidence=escalation.confidence,
        red_flag_rule=escalation.red_flag_rule,
        reason=escalation.reason,
        priority=escalation.priority,
        status=escalation.status,
        needs_attention=escalation.needs_attention,
        attention_reason=escalation.attention_reason,
        appointment=_appointment(escalation.appointment) if escalation.appointment else None,
        events=[
            EventPublic(
                at=e.at,
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                note=e.note,
            )
            for e in events
        ],
    )


async def _audit(
    services: Services, staff: StaffMember, action: str, escalation: Escalation
) -> None:
    await services.people.audit_async(
        staff.actor, action, f"escalation:{escalation.id}", escalation.patient_id, key_id=staff.id
    )


@router.get("/escalations", response_model=list[EscalationPublic])
async def list_escalations(
    services: ServicesDep,
    staff: CoordinatorDep,
    status: StatusFilter | None = None,
    priority: PriorityFilter | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[EscalationPublic]:
    """One page of the queue (``limit`` up to the page-size setting; ``offset`` to page on)."""
    section = services.settings.security
    size = min(limit or section.page_size, section.max_page_size)
    found = await services.escalations.list(status, priority, size, offset)
    patients = sorted({e.patient_id for e in found if e.patient_id})
    for patient_id in patients:
        await services.people.audit_async(
            staff.actor, "escalations.list", "escalations", patient_id, key_id=staff.id
        )
    return [await _public(services, e) for e in found]


@router.get("/escalations/{escalation_id}", response_model=EscalationPublic)
async def get_escalation(
    escalation_id: str, services: ServicesDep, staff: CoordinatorDep
) -> EscalationPublic:
    escalation = await services.escalations.get(escalation_id)
    await _audit(services, staff, "escalation.read", escalation)
    return await _public(services, escalation)


@router.post("/escalations/{escalation_id}/acknowledge", response_model=EscalationPublic)
async def acknowledge(
    escalation_id: str, services: ServicesDep, staff: CoordinatorDep
) -> EscalationPublic:
    escalation = await services.escalations.acknowledge(escalation_id, staff.actor)
    return await _public(services, escalation)


@router.post("/escalations/{escalation_id}/resolve", response_model=EscalationPublic)
async def resolve(
    escalation_id: str, body: ResolveBody, services: ServicesDep, staff: CoordinatorDep
) -> EscalationPublic:
    escalation = await services.escalations.resolve(escalation_id, staff.actor, body.note)
    return await _public(services, escalation)


@router.post("/escalations/{escalation_id}/reschedule", response_model=EscalationPublic)
async def reschedule(
    escalation_id: str, body: RescheduleBody, services: ServicesDep, staff: CoordinatorDep
) -> EscalationPublic:
    not_before = body.not_before
    if not_before is not None and not_before.tzinfo is None:
        not_before = not_before.replace(tzinfo=UTC)
    escalation = await services.escalations.reschedule(escalation_id, staff.actor, not_before)
    return await _public(services, escalation)


@router.get("/appointments", response_model=list[AppointmentPublic])
async def appointments(
    services: ServicesDep,
    staff: CoordinatorDep,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[AppointmentPublic]:
    begin = start or services.clock() - timedelta(days=1)
    finish = end or begin + timedelta(days=services.clinic.care_team.booking_horizon_days + 1)
    found = await services.escalations.list_appointments(begin, finish)
    await services.people.audit_async(
        staff.actor,
        "appointments.list",
        "appointments",
        None,
        f"{len(found)} appointments",
        key_id=staff.id,
    )
    return [_appointment(a) for a in found]

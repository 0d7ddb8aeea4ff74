"""Patient data governance: one patient's data exported or erased, and the retention job.

The audit trail keeps that an export or an erasure happened (who, when, which patient),
never the content; it is never itself purged or erased.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from app.conversation.turn_log import TurnFilter
from app.people.tables import PageTokenRow, PatientRow
from app.services import Services

log = logging.getLogger("aftercare.governance")

RETENTION_JOB_ID = "retention"
EXPORT_PAGE = 500


async def export_patient(
    services: Services, patient_id: str, actor: str, source: str | None = None
) -> dict[str, Any]:
    """Everything held about one patient, as JSON-ready values."""
    patient = await asyncio.to_thread(services.people.patient, patient_id)
    turns = []
    offset = 0
    while True:
        page = await asyncio.to_thread(
            services.turns.query, TurnFilter(patient_id=patient_id), EXPORT_PAGE, offset
        )
        turns.extend(page)
        if len(page) < EXPORT_PAGE:
            break
        offset += EXPORT_PAGE
    escalations = await services.escalations.of_patient(patient_id)
    audit = await asyncio.to_thread(services.people.audit_trail, patient_id, 10_000)
    await services.people.audit_async(
        actor, "patient.export", "patient", patient_id, f"{len(turns)} turns", source=source
    )
    return {
        "patient": {
            "id": patient.id,
            "display_name": patient.display_name,
            "surgery_date": patient.surgery_date.isoformat() if patient.surgery_date else None,
            "approach": patient.approach,
            "catheter_out_on": patient.catheter_out_on.isoformat()
            if patient.catheter_out_on
            else None,
        },
        "turns": [
            {
                **asdict(t),
                "at": t.at.isoformat(),
                "sources": [asdict(s) for s in t.sources],
            }
            for t in turns
        ],
        "escalations": [e.model_dump(mode="json") for e in escalations],
        "access_log": [
            {
                "at": row.at.isoformat(),
                "actor": row.actor,
                "action": row.action,
                "resource": row.resource,
                "outcome": row.outcome,
            }
            for row in audit
        ],
    }


async def erase_patient(
    services: Services, patient_id: str, actor: str, source: str | None = None
) -> dict[str, int]:
    """Delete the patient, his turns, keys and page tokens; blank his escalations' texts.

    Escalation and appointment rows stay (the appointment book needs them) without what
    he said. The audit trail records the erasure and keeps its earlier rows.
    """
    await asyncio.to_thread(services.people.patient, patient_id)  # unknown: 404
    turns = await asyncio.to_thread(services.turns.erase_patient, patient_id)
    erased = await services.escalations.erase_texts(patient_id=patient_id)
    alerts = await asyncio.to_thread(services.alerts.erase_payloads, escalation_ids=erased)

    def remove_patient() -> None:
        with services.people.audited(
            actor, "patient.erase", "patient", patient_id, f"{turns} turns"
        ) as session:
            session.execute(delete(PageTokenRow).where(PageTokenRow.patient_id == patient_id))
            session.execute(delete(PatientRow).where(PatientRow.id == patient_id))

    await asyncio.to_thread(remove_patient)
    return {"turns": turns, "escalations": len(erased), "alerts": alerts}


async def apply_retention(services: Services) -> dict[str, int]:
    """Delete turns, and blank closed escalations' texts, older than the retention."""
    days = services.settings.security.retention_days
    cutoff = services.clock() - timedelta(days=days)
    turns = await asyncio.to_thread(services.turns.delete_before, cutoff)
    erased = await services.escalations.erase_texts(before=cutoff)
    alerts = await asyncio.to_thread(services.alerts.erase_payloads, before=cutoff)

    def drop_tokens() -> None:
        with services.sessions.begin() as session:
            session.execute(delete(PageTokenRow).where(PageTokenRow.expires_at < cutoff))

    await asyncio.to_thread(drop_tokens)
    counts = {"turns": turns, "escalations": len(erased), "alerts": alerts}
    await services.people.audit_async(
        "system", "retention", "data", None, f"older than {days} days: {counts}"
    )
    if any(counts.values()):
        log.info("retention removed old data", extra={"counts": counts})
    return counts

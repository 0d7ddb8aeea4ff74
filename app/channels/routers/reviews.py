"""Conversation review and reports: stored turns as patients heard them, clinicians' marks,
the gaps report, and the documents due for review. Every read of patient text is audited."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response

from app.channels.deps import ClinicianDep, DeskDep, ReadyDep, ServicesDep, WorkspaceReaderDep
from app.channels.schemas_workspace import (
    DigestPublic,
    DocumentPublic,
    GapGroupPublic,
    GapsPublic,
    MarkBody,
    TurnPublic,
)
from app.conversation.turn_log import StoredTurn, TurnFilter
from app.errors import UnknownTurnError
from app.people.directory import StaffMember
from app.services import Services
from app.workspace.gaps import as_csv

router = APIRouter(prefix="/v1", tags=["clinicians"])

Outcome = Literal["answered", "escalated", "red_flag", "smalltalk"]


def _audit_patients(
    services: Services, staff: StaffMember, action: str, patients: Iterable[str | None]
) -> None:
    for patient_id in sorted({p for p in patients if p}):
        services.people.audit(staff.actor, action, "conversation_turns", patient_id)


def _public(turn: StoredTurn, services: Services) -> TurnPublic:
    marks = services.marks.for_turns([turn.id]).get(turn.id, [])
    stored = {f.name: getattr(turn, f.name) for f in dataclasses.fields(turn)}
    return TurnPublic.model_validate({**stored, "marks": marks})


@router.get("/turns", response_model=list[TurnPublic])
async def list_turns(
    services: ServicesDep,
    staff: WorkspaceReaderDep,
    outcome: Outcome | None = None,
    doc_id: str | None = None,
    doc_version: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float | None = Query(default=None, ge=0, le=1),
    max_confidence: float | None = Query(default=None, ge=0, le=1.0001),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> list[TurnPublic]:
    where = TurnFilter(
        outcome=outcome,
        doc_id=doc_id,
        doc_version=doc_version,
        since=since,
        until=until,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
    )
    turns = services.turns.query(where, limit=limit, offset=offset)
    _audit_patients(services, staff, "turns.read", (t.patient_id for t in turns))
    return [_public(t, services) for t in turns]


@router.post("/turns/{turn_id}/marks", response_model=TurnPublic, status_code=201)
async def mark_turn(
    turn_id: str, body: MarkBody, services: ServicesDep, staff: ClinicianDep
) -> TurnPublic:
    turn = services.turns.get(turn_id)
    if turn is None:
        raise UnknownTurnError(turn_id)
    services.marks.add(turn_id, body.kind, body.note, staff.actor)
    services.people.audit(
        staff.actor, "turn.mark", f"turn:{turn_id}", turn.patient_id, detail=body.kind
    )
    return _public(turn, services)


@router.get("/turns/marks/export")
async def export_marks(services: ServicesDep, staff: WorkspaceReaderDep) -> Response:
    """Marked turns as labelled questions (JSON lines, the evaluation set's format)."""
    lines: list[str] = []
    patients: list[str | None] = []
    for mark in services.marks.marked(("wrong", "should_have_answered")):
        turn = services.turns.get(mark.turn_id)
        if turn is None:
            continue
        patients.append(turn.patient_id)
        expected = "answered" if mark.kind == "should_have_answered" else "escalated"
        docs = sorted({s.doc_id for s in turn.sources}) if expected == "answered" else []
        lines.append(
            json.dumps(
                {
                    "id": f"review-{mark.id}",
                    "question": turn.question,
                    "expected": expected,
                    "docs": docs,
                    "split": "holdout",
                    "tags": ["review", mark.kind],
                }
            )
        )
    _audit_patients(services, staff, "marks.export", patients)
    return Response("".join(f"{line}\n" for line in lines), media_type="application/x-ndjson")


@router.get("/reports/gaps", response_model=None)
async def gaps_report(
    services: ReadyDep,
    staff: WorkspaceReaderDep,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> GapsPublic | Response:
    groups = await services.gaps.build(since, until)
    _audit_patients(
        services, staff, "gaps.read", (q.patient_id for g in groups for q in g.questions)
    )
    if format == "csv":
        return Response(
            as_csv(groups),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="aftercare-gaps.csv"'},
        )
    return GapsPublic(
        since=since,
        until=until,
        questions=sum(g.size for g in groups),
        groups=[GapGroupPublic.model_validate(g) for g in groups],
    )


@router.get("/reports/review-due", response_model=list[DocumentPublic])
async def review_due(desk: DeskDep, staff: WorkspaceReaderDep) -> list[DocumentPublic]:
    """Approved documents past their review date, most overdue first."""
    overdue = [s for s in await asyncio.to_thread(desk.documents) if s.overdue]
    overdue.sort(key=lambda s: (s.review_due, s.doc_id))
    return [DocumentPublic.model_validate(s) for s in overdue]


@router.post("/reports/review-due/send", response_model=DigestPublic)
async def send_review_digest(services: ServicesDep, staff: ClinicianDep) -> DigestPublic:
    """Queue the weekly review digest now (it also goes out on its weekly schedule)."""
    digest = await services.reminders.send()
    services.people.audit(staff.actor, "review_digest.send", "documents", None, detail=digest.id)
    return DigestPublic(
        id=digest.id,
        overdue=[d.doc_id for d in digest.overdue],
        due_soon=[d.doc_id for d in digest.due_soon],
        channels=services.reminders.outbox.channels if not digest.empty else [],
    )

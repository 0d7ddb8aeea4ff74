"""The document API of the clinician workspace: list, open, draft, upload, preview,
approve, retire. Clinicians (and admins) change documents; coordinators may read."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from app.channels.deps import ClinicianDep, DeskDep, ReadyDep, WorkspaceReaderDep
from app.channels.schemas import AskResponse
from app.channels.schemas_workspace import (
    ActionPublic,
    ApproveBody,
    DiffPublic,
    DocumentDetailPublic,
    DocumentPublic,
    DraftBody,
    DraftSaved,
    PreviewBody,
)
from app.errors import UploadTooLargeError
from app.workspace.document_drafting import METADATA_FIELDS, Upload

router = APIRouter(prefix="/v1/documents", tags=["clinicians"])


def _saved(draft_id: str, version: str, kind: str, revision: str) -> DraftSaved:
    return DraftSaved(id=draft_id, version=version, kind=kind, revision=revision)


@router.get("", response_model=list[DocumentPublic])
async def list_documents(desk: DeskDep, staff: WorkspaceReaderDep) -> list[DocumentPublic]:
    # Reading the corpus parses PDFs: off the event loop.
    found = await asyncio.to_thread(desk.documents)
    return [DocumentPublic.model_validate(s) for s in found]


@router.post("", response_model=DraftSaved, status_code=201)
async def upload_document(
    desk: DeskDep,
    staff: ClinicianDep,
    file: Annotated[UploadFile, File(description="Markdown, text or PDF")],
    metadata: Annotated[UploadFile | None, File(description="A PDF's metadata (YAML)")] = None,
    replaces: Annotated[str | None, Form()] = None,
    base_revision: Annotated[str | None, Form()] = None,
    id: Annotated[str | None, Form()] = None,
    title: Annotated[str | None, Form()] = None,
    version: Annotated[str | None, Form()] = None,
    reviewed_by: Annotated[str | None, Form()] = None,
    reviewed_on: Annotated[str | None, Form()] = None,
    review_due: Annotated[str | None, Form()] = None,
    sources: Annotated[str | None, Form(description="One source per line")] = None,
) -> DraftSaved:
    limit = desk.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise UploadTooLargeError(f"{file.filename} is larger than the {limit} byte upload limit")
    given = dict(
        zip(
            METADATA_FIELDS,
            (id, title, version, reviewed_by, reviewed_on, review_due, sources),
            strict=True,
        )
    )
    sidecar = await metadata.read(64_000) if metadata is not None else None
    draft = await asyncio.to_thread(
        desk.upload,
        Upload(
            filename=file.filename or "upload",
            content=content,
            fields={k: v for k, v in given.items() if v is not None},
            metadata_file=sidecar or None,
            replaces=replaces or None,
            base_revision=base_revision or None,
        ),
        staff,
    )
    return _saved(draft.doc_id, draft.version, draft.kind, draft.revision)


@router.get("/{doc_id}", response_model=DocumentDetailPublic)
async def open_document(
    doc_id: str, desk: DeskDep, staff: WorkspaceReaderDep
) -> DocumentDetailPublic:
    return DocumentDetailPublic.model_validate(await asyncio.to_thread(desk.detail, doc_id))


@router.put("/{doc_id}/draft", response_model=DraftSaved)
async def save_draft(
    doc_id: str, body: DraftBody, desk: DeskDep, staff: ClinicianDep
) -> DraftSaved:
    draft = await asyncio.to_thread(
        desk.save_draft, doc_id, body.base_revision, body.front_matter, body.body, staff
    )
    return _saved(draft.doc_id, draft.version, draft.kind, draft.revision)


@router.get("/{doc_id}/diff", response_model=DiffPublic)
async def diff(
    doc_id: str, old: str, new: str, desk: DeskDep, staff: WorkspaceReaderDep
) -> DiffPublic:
    text = await asyncio.to_thread(desk.diff, doc_id, old, new)
    return DiffPublic(doc_id=doc_id, old=old, new=new, diff=text)


@router.post("/{doc_id}/preview")
async def preview(
    doc_id: str, body: PreviewBody, services: ReadyDep, staff: WorkspaceReaderDep
) -> dict[str, object]:
    draft = AskResponse.of(await services.previews.ask_draft(doc_id, body.question))
    out: dict[str, object] = draft.model_dump(mode="json")
    if body.compare:
        current = AskResponse.of(await services.previews.ask_current(body.question))
        out["current"] = current.model_dump(mode="json")
    return out


@router.post("/{doc_id}/approve", response_model=ActionPublic)
async def approve(
    doc_id: str, body: ApproveBody, services: ReadyDep, desk: DeskDep, staff: ClinicianDep
) -> ActionPublic:
    result = await asyncio.to_thread(desk.approve, doc_id, body.version, staff)
    return ActionPublic.model_validate(result)


@router.post("/{doc_id}/retire", response_model=ActionPublic)
async def retire(
    doc_id: str, services: ReadyDep, desk: DeskDep, staff: ClinicianDep
) -> ActionPublic:
    result = await asyncio.to_thread(desk.retire, doc_id, staff)
    return ActionPublic.model_validate(result)

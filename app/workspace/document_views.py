"""What the document desk shows: a document's summary, detail, history, draft and the
result of an action, and the helpers that build them from corpus files and drafts.

``DocumentSummary`` and ``DraftView`` are pydantic models so that the HTTP shapes
(``app.channels.schemas_workspace``) extend them rather than repeat their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.errors import DocumentRejectedError
from app.workspace.drafts import Draft


class DocumentSummary(BaseModel):
    """One document's row in the desk's list: its metadata, index state and waiting draft."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    doc_id: str
    title: str
    path: str | None
    kind: str
    status: str
    version: str | None
    reviewed_by: str | None
    reviewed_on: date | None
    review_due: date | None
    overdue: bool
    live: bool
    chunks: int
    last_indexed_at: datetime | None
    last_failure: str | None
    last_failure_at: datetime | None
    draft_version: str | None
    error: str | None


@dataclass(frozen=True)
class VersionEvent:
    version: str
    action: str
    before_version: str | None
    actor: str
    actor_name: str
    at: datetime


@dataclass(frozen=True)
class Section:
    section: str
    text: str


class DraftView(BaseModel):
    """A waiting draft as the desk shows it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    kind: str
    version: str
    text: str
    revision: str
    saved_by: str
    saved_at: datetime
    based_on: str | None
    meta: dict[str, Any]


@dataclass(frozen=True)
class DocumentDetail:
    summary: DocumentSummary
    text: str
    rendered: str
    revision: str | None
    meta: dict[str, Any]
    sections: list[Section]
    draft: DraftView | None
    history: list[VersionEvent]
    answers_by_version: dict[str, int]


@dataclass(frozen=True)
class ActionResult:
    doc_id: str
    status: str
    version: str
    before_version: str | None
    chunks: int
    review_due: date | None
    answers_served: int = 0
    index_status: str = ""


def as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def plain_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in meta.items()}


def draft_summary(draft: Draft) -> DocumentSummary:
    meta = safe_meta(draft)
    return DocumentSummary(
        doc_id=draft.doc_id,
        title=str(meta.get("title") or draft.doc_id),
        path=None,
        kind=draft.kind,
        status="draft",
        version=None,
        reviewed_by=None,
        reviewed_on=None,
        review_due=None,
        overdue=False,
        live=False,
        chunks=0,
        last_indexed_at=None,
        last_failure=None,
        last_failure_at=None,
        draft_version=draft.version,
        error=None,
    )


def safe_meta(draft: Draft) -> dict[str, Any]:
    try:
        return draft.meta
    except DocumentRejectedError:
        return {}


def draft_view(draft: Draft) -> DraftView:
    return DraftView(
        kind=draft.kind,
        version=draft.version,
        text=draft.text,
        revision=draft.revision,
        saved_by=draft.saved_by,
        saved_at=draft.saved_at,
        based_on=draft.based_on,
        meta=plain_meta(safe_meta(draft)),
    )

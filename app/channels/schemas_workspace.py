"""HTTP shapes of the clinician workspace API: documents, drafts, turns, marks, gaps."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.workspace.document_views import DocumentSummary, DraftView


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DocumentPublic(DocumentSummary):
    """A document's row in the workspace list (the desk's own summary)."""


class VersionEventPublic(_Out):
    version: str
    action: str
    before_version: str | None
    actor: str
    actor_name: str
    at: datetime


class SectionPublic(_Out):
    section: str
    text: str


class DraftPublic(DraftView):
    """A waiting draft (the desk's own view of it)."""


class DocumentDetailPublic(_Out):
    summary: DocumentPublic
    text: str
    rendered: str
    revision: str | None
    meta: dict[str, Any]
    sections: list[SectionPublic]
    draft: DraftPublic | None
    history: list[VersionEventPublic]
    answers_by_version: dict[str, int]


class DraftSaved(BaseModel):
    id: str
    version: str
    status: Literal["draft"] = "draft"
    kind: str
    revision: str


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_revision: str | None = Field(
        default=None, description="The revision of the text the edit started from."
    )
    front_matter: dict[str, Any]
    body: str = Field(max_length=2_000_000)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=40, description="The version reviewed.")


class ActionPublic(_Out):
    doc_id: str
    status: str
    version: str
    before_version: str | None
    chunks: int
    review_due: date | None
    answers_served: int
    index_status: str


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    compare: bool = Field(
        default=False, description="Also answer from the live index, as patients hear it today."
    )


class DiffPublic(BaseModel):
    doc_id: str
    old: str
    new: str
    diff: str


class TurnSourcePublic(_Out):
    doc_id: str
    version: str
    section: str
    score: float


class MarkPublic(_Out):
    id: int
    turn_id: str
    kind: str
    note: str
    actor: str
    at: datetime


class TurnPublic(BaseModel):
    id: str
    at: datetime
    conversation_id: str | None
    channel: str
    patient_id: str | None
    question: str
    answer: str
    outcome: str
    confidence: float | None
    red_flag_rule: str | None
    escalation_id: str | None
    sources: list[TurnSourcePublic]
    timings_ms: dict[str, float]
    marks: list[MarkPublic]


class MarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["wrong", "should_have_answered"]
    note: str = Field(default="", max_length=4000)


class GapQuestionPublic(_Out):
    turn_id: str
    at: datetime
    question: str
    confidence: float | None
    escalation_id: str | None
    mark: str | None


class GapGroupPublic(_Out):
    size: int
    examples: list[str]
    questions: list[GapQuestionPublic]
    nurse_calls: int
    marked: int
    closest_doc_id: str | None
    closest_title: str | None
    closest_section: str | None
    closest_score: float | None


class GapsPublic(BaseModel):
    since: datetime | None
    until: datetime | None
    questions: int
    groups: list[GapGroupPublic]


class DigestPublic(BaseModel):
    id: str
    overdue: list[str]
    due_soon: list[str]
    channels: list[str] = Field(description="Where it was queued; empty when nothing is due.")

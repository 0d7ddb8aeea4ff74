"""Reading the clinicians' documents: list, open, history, diff and provenance.

``DocumentShelf`` holds what the desk is built from and answers every read: the corpus
files (``CorpusEntry``), the index bookkeeping (``document_index``), the waiting drafts
and the recorded versions (``document_versions``). It never writes to the corpus; the
drafting and approving desks (``document_drafting``, ``documents``) build on it.
"""

from __future__ import annotations

import difflib
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.conversation.turn_log import TurnFilter, TurnLog
from app.errors import DocumentRejectedError, UnknownDocumentError
from app.people.directory import People, StaffMember
from app.workspace.document_corpus import (
    CorpusEntry,
    approved_version,
    draft_snapshot,
    raw_meta,
    snapshot,
)
from app.workspace.document_records import DocumentIndexRow, DocumentVersionRow
from app.workspace.document_views import (
    DocumentDetail,
    DocumentSummary,
    Section,
    VersionEvent,
    as_date,
    draft_summary,
    draft_view,
    plain_meta,
)
from app.workspace.drafts import Draft, DraftStore
from app.workspace.settings import WorkspaceSettings
from ingestion.documents import CorpusDocument, discover, duplicate_ids, load_document
from ingestion.errors import DocumentError
from ingestion.index import IngestReport

# The most stored answers read to count answers per document version.
_PROVENANCE_LIMIT = 100_000


class DocumentShelf:
    """The desk's reading side: the corpus folder, the index state, drafts and history."""

    def __init__(
        self,
        corpus_dir: Path,
        settings: WorkspaceSettings,
        drafts: DraftStore,
        sessions: sessionmaker[Session],
        people: People,
        turns: TurnLog,
        placeholders: Callable[[], Mapping[str, str]],
        ingest: Callable[[], IngestReport],
        indexed_chunks: Callable[[], dict[str, int]],
        indexed_sections: Callable[[str], list[tuple[str, str]]],
        clock: Callable[[], datetime],
    ) -> None:
        self.corpus_dir = corpus_dir
        self._settings = settings
        self.drafts = drafts
        self._sessions = sessions
        self._people = people
        self._turns = turns
        self._placeholders = placeholders
        self._ingest = ingest
        self._indexed_chunks = indexed_chunks
        self._indexed_sections = indexed_sections
        self._clock = clock
        # One corpus write (and its re-ingest) at a time.
        self._writing = threading.Lock()

    # ---- reading -----------------------------------------------------------------------

    @property
    def max_upload_bytes(self) -> int:
        return self._settings.max_upload_bytes

    def today(self) -> date:
        return self._clock().date()

    def entries(self) -> list[CorpusEntry]:
        placeholders = self._placeholders()
        found: list[CorpusEntry] = []
        for source in discover(self.corpus_dir):
            rel = source.path.relative_to(self.corpus_dir).as_posix()
            meta = raw_meta(source)
            try:
                doc: CorpusDocument | None = load_document(source, placeholders, self.corpus_dir)
                error = None
            except DocumentError as exc:
                doc, error = None, exc.problem
            found.append(CorpusEntry(source, rel, doc, error, meta))
        loaded = [e.doc for e in found if e.doc is not None]
        clashes = duplicate_ids(loaded)
        if clashes:
            found = [
                CorpusEntry(e.source, e.path, None, f"duplicate id '{e.doc_id}'", e.meta)
                if e.doc is not None and e.doc.doc_id in clashes
                else e
                for e in found
            ]
        return found

    def entry(self, doc_id: str) -> CorpusEntry | None:
        return next((e for e in self.entries() if e.doc_id == doc_id), None)

    def live(self, doc: CorpusDocument) -> bool:
        """Whether an approved document answers patients (the clinic's overdue rule)."""
        return self._settings.overdue_stay_live or doc.meta.review_due >= self.today()

    def documents(self) -> list[DocumentSummary]:
        chunks = self._indexed_chunks()
        states = self._states()
        drafts = {d.doc_id: d for d in self.drafts.all()}
        summaries = [
            self._summary(e, chunks, states, drafts.pop(e.doc_id, None) if e.doc_id else None)
            for e in self.entries()
        ]
        summaries += [draft_summary(d) for d in drafts.values()]
        return sorted(summaries, key=lambda s: (not s.overdue, s.title.lower()))

    def detail(self, doc_id: str) -> DocumentDetail:
        entry = self.entry(doc_id)
        draft = self.drafts.get(doc_id)
        if entry is None and draft is None:
            raise UnknownDocumentError(doc_id)
        if entry is not None:
            summary = self._summary(entry, self._indexed_chunks(), self._states(), draft)
        else:
            assert draft is not None
            summary = draft_summary(draft)
        return DocumentDetail(
            summary=summary,
            text=entry.text if entry else "",
            rendered=entry.doc.body if entry and entry.doc else "",
            revision=entry.revision if entry else None,
            meta=plain_meta(entry.meta) if entry else {},
            sections=[Section(s, t) for s, t in self._indexed_sections(doc_id)],
            draft=draft_view(draft) if draft else None,
            history=self.history(doc_id),
            answers_by_version=self.answers_by_version(doc_id),
        )

    def history(self, doc_id: str) -> list[VersionEvent]:
        with self._sessions() as session:
            rows = session.scalars(
                select(DocumentVersionRow)
                .where(DocumentVersionRow.doc_id == doc_id)
                .order_by(DocumentVersionRow.id.desc())
            )
            return [
                VersionEvent(r.version, r.action, r.before_version, r.actor, r.actor_name, r.at)
                for r in rows
            ]

    def diff(self, doc_id: str, old: str, new: str) -> str:
        """A unified diff between two approved versions (or 'draft' for the draft)."""
        return "".join(
            difflib.unified_diff(
                self._version_text(doc_id, old).splitlines(keepends=True),
                self._version_text(doc_id, new).splitlines(keepends=True),
                fromfile=f"{doc_id} {old}",
                tofile=f"{doc_id} {new}",
            )
        )

    def answers_by_version(self, doc_id: str) -> dict[str, int]:
        """How many stored answers used each version of this document."""
        turns = self._turns.query(TurnFilter(doc_id=doc_id), limit=_PROVENANCE_LIMIT)
        counts: Counter[str] = Counter()
        for turn in turns:
            for version in {s.version for s in turn.sources if s.doc_id == doc_id}:
                counts[version] += 1
        return dict(counts)

    # ---- helpers -------------------------------------------------------------------------

    def _states(self) -> dict[str, DocumentIndexRow]:
        with self._sessions() as session:
            return {r.path: r for r in session.scalars(select(DocumentIndexRow))}

    def _summary(
        self,
        entry: CorpusEntry,
        chunks: dict[str, int],
        states: dict[str, DocumentIndexRow],
        draft: Draft | None,
    ) -> DocumentSummary:
        meta = entry.meta
        doc_id = entry.doc_id or entry.path
        state = states.get(entry.path)
        review_due = as_date(meta.get("review_due"))
        status = str(meta.get("status", "")) if entry.doc is not None else "failed"
        return DocumentSummary(
            doc_id=doc_id,
            title=str(meta.get("title") or entry.path),
            path=entry.path,
            kind=entry.kind,
            status=status,
            version=str(meta["version"]) if meta.get("version") is not None else None,
            reviewed_by=str(meta["reviewed_by"]) if meta.get("reviewed_by") else None,
            reviewed_on=as_date(meta.get("reviewed_on")),
            review_due=review_due,
            overdue=status == "approved" and review_due is not None and review_due < self.today(),
            live=chunks.get(doc_id, 0) > 0,
            chunks=chunks.get(doc_id, 0),
            last_indexed_at=state.last_indexed_at if state else None,
            last_failure=(state.last_failure if state else None) or entry.error,
            last_failure_at=state.last_failure_at if state else None,
            draft_version=draft.version if draft else None,
            error=entry.error,
        )

    def _defaults(self, meta: Mapping[str, Any], staff: StaffMember | None) -> dict[str, Any]:
        today = self.today()
        filled = dict(meta)
        filled.setdefault("reviewed_by", staff.name if staff else "not yet reviewed")
        filled.setdefault("reviewed_on", today)
        filled.setdefault("review_due", today + timedelta(days=self._settings.review_period_days))
        return filled

    def _version_text(self, doc_id: str, version: str) -> str:
        if version == "draft":
            draft = self.drafts.get(doc_id)
            if draft is None:
                raise UnknownDocumentError(doc_id)
            return draft_snapshot(draft)
        with self._sessions() as session:
            row = session.scalars(
                select(DocumentVersionRow)
                .where(
                    DocumentVersionRow.doc_id == doc_id,
                    DocumentVersionRow.version == version,
                    DocumentVersionRow.action == "approved",
                )
                .order_by(DocumentVersionRow.id.desc())
            ).first()
        if row is not None:
            return row.text
        entry = self.entry(doc_id)
        if entry is not None and approved_version(entry) == version:
            return snapshot({p: c for p, c in zip(entry.files(), entry.contents(), strict=True)})
        raise DocumentRejectedError(f"'{doc_id}' has no recorded version {version}")

"""The clinicians' document desk: list, open, draft, upload, approve and retire.

The corpus folder stays the source of truth: approval writes the approved file (and
removes the draft), retirement rewrites its status, and each re-ingests at once so the
running assistant answers from the change within seconds. Every action is recorded in
``document_versions`` and in the audit log with the version before and after.
"""

from __future__ import annotations

import difflib
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.conversation.turn_log import TurnFilter, TurnLog
from app.errors import (
    DocumentConflictError,
    DocumentRejectedError,
    UnknownDocumentError,
    UploadTooLargeError,
)
from app.people.directory import People, StaffMember
from app.workspace.document_files import (
    parse_metadata,
    render_markdown,
    revision,
    split_front_matter,
    write_atomically,
)
from app.workspace.document_records import DocumentIndexRow, DocumentVersionRow
from app.workspace.drafts import Draft, DraftStore
from app.workspace.settings import WorkspaceSettings
from ingestion.documents import (
    CorpusDocument,
    SourceFile,
    discover,
    duplicate_ids,
    load_document,
)
from ingestion.errors import DocumentError
from ingestion.index import DocumentReport, IngestReport
from ingestion.pdf_text import read_pdf_text

# Form fields an upload may carry as metadata (a PDF's, or a text file without front matter).
METADATA_FIELDS = ("id", "title", "version", "reviewed_by", "reviewed_on", "review_due", "sources")
_PROVENANCE_LIMIT = 100_000


@dataclass(frozen=True)
class CorpusEntry:
    """One file in the corpus folder, loaded if it can be."""

    source: SourceFile
    path: str
    doc: CorpusDocument | None
    error: str | None
    meta: dict[str, Any]

    @property
    def doc_id(self) -> str | None:
        if self.doc is not None:
            return self.doc.doc_id
        value = self.meta.get("id")
        return str(value) if value else None

    @property
    def kind(self) -> str:
        return self.source.kind

    def files(self) -> list[Path]:
        paths = [self.source.path]
        if self.source.metadata_path is not None and self.source.metadata_path.is_file():
            paths.append(self.source.metadata_path)
        return paths

    def contents(self) -> list[bytes]:
        return [p.read_bytes() for p in self.files()]

    @property
    def revision(self) -> str:
        return revision(*self.contents())

    @property
    def text(self) -> str:
        """What a clinician edits: the file's text, or a PDF's metadata file."""
        if self.kind == "pdf":
            sidecar = self.source.metadata_path
            return sidecar.read_text("utf-8") if sidecar and sidecar.is_file() else ""
        return self.source.path.read_bytes().decode("utf-8-sig", errors="replace")


@dataclass(frozen=True)
class DocumentSummary:
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


@dataclass(frozen=True)
class DraftView:
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


@dataclass
class Upload:
    """A file as uploaded, with the metadata given beside it."""

    filename: str
    content: bytes
    fields: dict[str, str] = field(default_factory=dict)
    metadata_file: bytes | None = None
    replaces: str | None = None
    base_revision: str | None = None


class DocumentDesk:
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
            meta = _raw_meta(source)
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
        summaries += [_draft_summary(d) for d in drafts.values()]
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
            summary = _draft_summary(draft)
        return DocumentDetail(
            summary=summary,
            text=entry.text if entry else "",
            rendered=entry.doc.body if entry and entry.doc else "",
            revision=entry.revision if entry else None,
            meta=_plain(entry.meta) if entry else {},
            sections=[Section(s, t) for s, t in self._indexed_sections(doc_id)],
            draft=_draft_view(draft) if draft else None,
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

    # ---- drafts ------------------------------------------------------------------------

    def save_draft(
        self,
        doc_id: str,
        base_revision: str | None,
        meta: Mapping[str, Any],
        body: str,
        staff: StaffMember,
    ) -> Draft:
        """An edit in the page: the front matter form and the body text."""
        entry = self.entry(doc_id)
        current = self.drafts.get(doc_id)
        if entry is None and current is None:
            raise UnknownDocumentError(doc_id)
        if current is None and entry is not None and entry.kind == "pdf":
            raise DocumentRejectedError(
                "a PDF changes by uploading a new version of the file, not by editing its text"
            )
        if str(meta.get("id", doc_id)) != doc_id:
            raise DocumentRejectedError(
                f"field 'id': a document's id cannot change (it is '{doc_id}')"
            )
        fields = {**dict(meta), "id": doc_id, "status": "draft"}
        kind = current.kind if current else (entry.kind if entry else "md")
        if kind == "pdf":
            assert current is not None
            text = _dump_sidecar(fields)
            draft = Draft(
                doc_id, "pdf", current.content, text, staff.name, self._clock(), current.based_on
            )
        else:
            text = render_markdown(self._defaults(fields, staff), body)
            draft = Draft(
                doc_id,
                kind,
                text.encode("utf-8"),
                None,
                staff.name,
                self._clock(),
                entry.doc.version if entry and entry.doc else None,
            )
        self._check_draft(draft, entry)
        with self._writing:  # never between an approval's write and its removal of the draft
            self._check_base(
                doc_id, base_revision, self.entry(doc_id), self.drafts.get(doc_id), draft.text
            )
            self.drafts.save(draft)
        self._people.audit(
            staff.actor,
            "document.draft.save",
            f"document:{doc_id}",
            None,
            detail=f"draft version {draft.version} (approved: {_version_of(entry) or 'none'})",
        )
        return draft

    def upload(self, upload: Upload, staff: StaffMember) -> Draft:
        """A new document, or a new version of one, saved as a draft."""
        limit = self._settings.max_upload_bytes
        if len(upload.content) > limit:
            raise UploadTooLargeError(
                f"{upload.filename} is larger than the {limit // 1_000_000 or 1} MB limit"
                if limit >= 1_000_000
                else f"{upload.filename} is larger than the {limit} byte limit"
            )
        kind = Path(upload.filename).suffix.lower().lstrip(".")
        if kind not in ("md", "txt", "pdf"):
            raise DocumentRejectedError(
                f"{upload.filename}: upload Markdown (.md), text (.txt) or PDF (.pdf)"
            )
        if not upload.content.strip():
            raise DocumentRejectedError(f"{upload.filename} is empty")
        form = {k: v for k, v in upload.fields.items() if k in METADATA_FIELDS and v.strip()}
        if kind == "pdf":
            if not upload.content.startswith(b"%PDF-"):
                raise DocumentRejectedError(
                    f"{upload.filename} is not a PDF (it is named .pdf but its content is not)"
                )
            meta = (
                parse_metadata(upload.metadata_file.decode("utf-8")) if upload.metadata_file else {}
            )
            meta.update(_form_meta(form))
            meta = self._defaults({**meta, "status": "draft"}, staff)
            content, sidecar = upload.content, _dump_sidecar(meta)
        else:
            try:
                text = upload.content.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise DocumentRejectedError(
                    f"{upload.filename} is not UTF-8 text: save it as UTF-8 and upload again"
                ) from exc
            if text.lstrip().startswith("---"):
                meta, body = split_front_matter(text)
            else:
                meta, body = {}, text
            meta.update(_form_meta(form))
            meta = self._defaults({**meta, "status": "draft"}, staff)
            content, sidecar = render_markdown(meta, body).encode("utf-8"), None
        doc_id = str(meta.get("id") or "")
        if not doc_id:
            raise DocumentRejectedError("field 'id': every document needs an id")
        entry = self.entry(doc_id)
        current = self.drafts.get(doc_id)
        if upload.replaces is None and (entry is not None or current is not None):
            raise DocumentRejectedError(
                f"duplicate id: a document with id '{doc_id}' already exists; "
                "upload this as a new version of it, or give it another id"
            )
        if upload.replaces is not None and upload.replaces != doc_id:
            raise DocumentRejectedError(
                f"field 'id': this upload has id '{doc_id}' but replaces '{upload.replaces}'"
            )
        draft = Draft(doc_id, kind, content, sidecar, staff.name, self._clock(), _version_of(entry))
        if upload.replaces is not None and entry is None and current is None:
            raise UnknownDocumentError(doc_id)
        self._check_draft(draft, entry)
        with self._writing:  # never between an approval's write and its removal of the draft
            if upload.replaces is not None:
                self._check_base(
                    doc_id,
                    upload.base_revision,
                    self.entry(doc_id),
                    self.drafts.get(doc_id),
                    draft.text,
                )
            elif self.drafts.get(doc_id) is not None or self.entry(doc_id) is not None:
                raise DocumentRejectedError(
                    f"duplicate id: a document with id '{doc_id}' already exists"
                )
            self.drafts.save(draft)
        self._people.audit(
            staff.actor,
            "document.upload",
            f"document:{doc_id}",
            None,
            detail=f"{kind} draft version {draft.version} "
            f"(approved: {_version_of(entry) or 'none'})",
        )
        return draft

    # ---- approval and retirement -------------------------------------------------------

    def approve(self, doc_id: str, version: str, staff: StaffMember) -> ActionResult:
        with self._writing:
            draft = self.drafts.get(doc_id)
            entry = self.entry(doc_id)
            if draft is None:
                if entry is None:
                    raise UnknownDocumentError(doc_id)
                raise DocumentRejectedError(f"'{doc_id}' has no draft waiting for approval")
            if draft.version != version:
                raise DocumentConflictError(
                    f"the draft is now version {draft.version}, not the version {version} "
                    "you reviewed: read it again before approving",
                    yours="",
                    theirs=draft.text,
                    current_revision=draft.revision,
                )
            before = _version_of(entry)
            today = self.today()
            meta = {
                **draft.meta,
                "status": "approved",
                "reviewed_by": staff.name,
                "reviewed_on": today,
                "review_due": today + timedelta(days=self._settings.review_period_days),
            }
            files = self._approved_files(doc_id, draft, meta, entry)
            self._check_files(files, doc_id, entry)
            backups = {p: p.read_bytes() for p in files if p.exists()}
            old_files = [p for p in (entry.files() if entry else []) if p not in files]
            old_backups = {p: p.read_bytes() for p in old_files}
            write_atomically(files)
            for path in old_files:
                path.unlink(missing_ok=True)
            report = self._ingest()
            main = next(p for p in files if not p.name.endswith(".yaml"))
            outcome = _report_for(report, doc_id, _relative(main, self.corpus_dir))
            if outcome is None or outcome.status == "failed":
                reason = outcome.error if outcome else "it did not reach the index"
                for path in files:
                    if path not in backups:
                        path.unlink(missing_ok=True)
                write_atomically({**backups, **old_backups} or {})
                self._ingest()
                raise DocumentRejectedError(f"not approved: {reason}")
            snapshot = _snapshot(files)
            self._record(doc_id, version, "approved", before, staff, files, snapshot)
            self.drafts.delete(doc_id)
            self._people.audit(
                staff.actor,
                "document.approve",
                f"document:{doc_id}",
                None,
                detail=f"version {before or 'none'} -> {version}; {outcome.status}, "
                f"{outcome.chunks} chunks",
            )
            return ActionResult(
                doc_id,
                "approved",
                version,
                before,
                outcome.chunks,
                meta["review_due"],
                answers_served=self.answers_by_version(doc_id).get(before or "", 0)
                if before
                else 0,
                index_status=outcome.status,
            )

    def retire(self, doc_id: str, staff: StaffMember) -> ActionResult:
        with self._writing:
            entry = self.entry(doc_id)
            if entry is None:
                raise UnknownDocumentError(doc_id)
            if entry.meta.get("status") == "retired":
                raise DocumentRejectedError(f"'{doc_id}' is already retired")
            version = str(entry.meta.get("version", ""))
            meta = {**entry.meta, "status": "retired"}
            if entry.kind == "pdf":
                assert entry.source.metadata_path is not None
                files = {entry.source.metadata_path: _dump_sidecar(meta).encode("utf-8")}
            else:
                _, body = split_front_matter(entry.text)
                files = {entry.source.path: render_markdown(meta, body).encode("utf-8")}
            write_atomically(files)
            report = self._ingest()
            outcome = _report_for(report, doc_id, entry.path)
            self._record(doc_id, version, "retired", version, staff, files, _snapshot(files))
            self._people.audit(
                staff.actor,
                "document.retire",
                f"document:{doc_id}",
                None,
                detail=f"version {version} -> retired; index: "
                f"{outcome.status if outcome else 'not indexed'}",
            )
            return ActionResult(
                doc_id,
                "retired",
                version,
                version,
                0,
                None,
                answers_served=self.answers_by_version(doc_id).get(version, 0),
                index_status=outcome.status if outcome else "",
            )

    def approved_copy(self, draft: Draft, target_dir: Path) -> None:
        """The draft written into ``target_dir`` as if approved (for previews)."""
        meta = {**draft.meta, "status": "approved"}
        meta = self._defaults(meta, None)
        name = f"{draft.doc_id}.{draft.kind}"
        if draft.kind == "pdf":
            (target_dir / name).write_bytes(draft.content)
            (target_dir / f"{name}.yaml").write_text(_dump_sidecar(meta), "utf-8")
        else:
            _, body = split_front_matter(draft.text)
            (target_dir / name).write_text(render_markdown(meta, body), "utf-8")

    # ---- index bookkeeping ---------------------------------------------------------------

    def record_ingest(self, report: IngestReport) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            for doc in report.documents:
                row = session.get(DocumentIndexRow, doc.path)
                if row is None:
                    row = DocumentIndexRow(path=doc.path, status=doc.status, chunks=0)
                    session.add(row)
                row.doc_id = doc.doc_id or row.doc_id
                row.status = doc.status
                if doc.status == "failed":
                    row.last_failure = doc.error
                    row.last_failure_at = now
                    continue
                row.chunks = doc.chunks
                if doc.status in ("added", "updated") or row.last_indexed_at is None:
                    row.last_indexed_at = now

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
        review_due = _as_date(meta.get("review_due"))
        status = str(meta.get("status", "")) if entry.doc is not None else "failed"
        return DocumentSummary(
            doc_id=doc_id,
            title=str(meta.get("title") or entry.path),
            path=entry.path,
            kind=entry.kind,
            status=status,
            version=str(meta["version"]) if meta.get("version") is not None else None,
            reviewed_by=str(meta["reviewed_by"]) if meta.get("reviewed_by") else None,
            reviewed_on=_as_date(meta.get("reviewed_on")),
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

    def _check_base(
        self,
        doc_id: str,
        base_revision: str | None,
        entry: CorpusEntry | None,
        current: Draft | None,
        yours: str,
    ) -> None:
        stored_revision = current.revision if current else (entry.revision if entry else None)
        stored_text = current.text if current else (entry.text if entry else "")
        if stored_revision is not None and base_revision != stored_revision:
            whose = f"a draft saved by {current.saved_by}" if current else "the approved text"
            raise DocumentConflictError(
                f"'{doc_id}' changed since you opened it ({whose}); "
                "your text was not saved: compare both and save again",
                yours=yours,
                theirs=stored_text,
                current_revision=stored_revision,
            )

    def _check_draft(self, draft: Draft, entry: CorpusEntry | None) -> None:
        """Refuse a draft that would not load, or that reuses the approved version."""
        with tempfile.TemporaryDirectory(prefix="aftercare-draft-") as folder:
            staged = Path(folder) / f"{draft.doc_id}.{draft.kind}"
            staged.write_bytes(draft.content)
            sidecar = None
            if draft.kind == "pdf":
                sidecar = staged.with_name(staged.name + ".yaml")
                sidecar.write_text(draft.metadata_text or "", "utf-8")
            try:
                load_document(SourceFile(staged, sidecar), self._placeholders(), Path(folder))
            except DocumentError as exc:
                raise DocumentRejectedError(exc.problem) from exc
        approved = _version_of(entry)
        if approved is not None and draft.version == approved:
            raise DocumentRejectedError(
                f"field 'version': version {approved} is already approved; "
                "give the changed document a new version"
            )

    def _approved_files(
        self, doc_id: str, draft: Draft, meta: Mapping[str, Any], entry: CorpusEntry | None
    ) -> dict[Path, bytes]:
        if entry is not None and entry.kind == draft.kind:
            target = entry.source.path
        else:
            target = self.corpus_dir / f"{doc_id}.{draft.kind}"
        if draft.kind == "pdf":
            return {
                target.with_name(target.name + ".yaml"): _dump_sidecar(meta).encode("utf-8"),
                target: draft.content,
            }
        _, body = split_front_matter(draft.text)
        return {target: render_markdown(meta, body).encode("utf-8")}

    def _check_files(
        self, files: Mapping[Path, bytes], doc_id: str, entry: CorpusEntry | None
    ) -> None:
        """Load the approved files from a scratch folder, and refuse an id clash."""
        for other in self.entries():
            if other.doc_id == doc_id and (entry is None or other.path != entry.path):
                raise DocumentRejectedError(
                    f"duplicate id: '{other.path}' in the corpus already uses id '{doc_id}'"
                )
        main = next(p for p in files if not p.name.endswith(".yaml"))
        if main.exists() and (entry is None or main != entry.source.path):
            raise DocumentRejectedError(f"the corpus already has a file named '{main.name}'")
        with tempfile.TemporaryDirectory(prefix="aftercare-approve-") as folder:
            for path, content in files.items():
                (Path(folder) / path.name).write_bytes(content)
            staged = Path(folder) / main.name
            sidecar = staged.with_name(staged.name + ".yaml") if main.suffix == ".pdf" else None
            try:
                load_document(SourceFile(staged, sidecar), self._placeholders(), Path(folder))
            except DocumentError as exc:
                raise DocumentRejectedError(f"not approved: {exc.problem}") from exc

    def _record(
        self,
        doc_id: str,
        version: str,
        action: str,
        before: str | None,
        staff: StaffMember,
        files: Mapping[Path, bytes],
        text: str,
    ) -> None:
        main = next(p for p in files if not p.name.endswith(".yaml") or len(files) == 1)
        with self._sessions.begin() as session:
            session.add(
                DocumentVersionRow(
                    doc_id=doc_id,
                    version=version,
                    action=action,
                    before_version=before,
                    actor=staff.actor,
                    actor_name=staff.name,
                    at=self._clock(),
                    path=_relative(main, self.corpus_dir),
                    text=text,
                )
            )

    def _version_text(self, doc_id: str, version: str) -> str:
        if version == "draft":
            draft = self.drafts.get(doc_id)
            if draft is None:
                raise UnknownDocumentError(doc_id)
            return _draft_snapshot(draft)
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
        if entry is not None and _version_of(entry) == version:
            return _snapshot({p: c for p, c in zip(entry.files(), entry.contents(), strict=True)})
        raise DocumentRejectedError(f"'{doc_id}' has no recorded version {version}")


# ---- module helpers ------------------------------------------------------------------------


def _raw_meta(source: SourceFile) -> dict[str, Any]:
    try:
        if source.kind == "pdf":
            if source.metadata_path is None or not source.metadata_path.is_file():
                return {}
            return parse_metadata(source.metadata_path.read_text("utf-8"))
        return split_front_matter(source.path.read_bytes().decode("utf-8-sig"))[0]
    except (DocumentRejectedError, OSError, UnicodeDecodeError):
        return {}


def _version_of(entry: CorpusEntry | None) -> str | None:
    if entry is None or entry.meta.get("version") is None:
        return None
    if entry.meta.get("status") != "approved":
        return None
    return str(entry.meta["version"])


def _as_date(value: object) -> date | None:
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


def _plain(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in meta.items()}


def _form_meta(form: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {k: v.strip() for k, v in form.items() if k != "sources"}
    if "sources" in form:
        meta["sources"] = [s.strip() for s in form["sources"].splitlines() if s.strip()]
    return meta


def _dump_sidecar(meta: Mapping[str, Any]) -> str:
    return render_markdown(meta, "").removeprefix("---\n").removesuffix("---\n")


def _draft_summary(draft: Draft) -> DocumentSummary:
    meta = _safe_meta(draft)
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


def _safe_meta(draft: Draft) -> dict[str, Any]:
    try:
        return draft.meta
    except DocumentRejectedError:
        return {}


def _draft_view(draft: Draft) -> DraftView:
    return DraftView(
        kind=draft.kind,
        version=draft.version,
        text=draft.text,
        revision=draft.revision,
        saved_by=draft.saved_by,
        saved_at=draft.saved_at,
        based_on=draft.based_on,
        meta=_plain(_safe_meta(draft)),
    )


def _snapshot(files: Mapping[Path, bytes]) -> str:
    """The text of a version as kept for its history: a PDF's metadata and its text."""
    parts: list[str] = []
    for path, content in sorted(files.items(), key=lambda item: item[0].suffix != ".yaml"):
        if path.suffix.lower() == ".pdf":
            parts.append(_pdf_text(path, content))
        else:
            parts.append(content.decode("utf-8-sig", errors="replace"))
    return "\n".join(parts)


def _draft_snapshot(draft: Draft) -> str:
    if draft.kind != "pdf":
        return draft.text
    with tempfile.TemporaryDirectory(prefix="aftercare-pdf-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(draft.content)
        return (draft.metadata_text or "") + "\n" + _pdf_text(path, draft.content)


def _pdf_text(path: Path, content: bytes) -> str:
    with tempfile.TemporaryDirectory(prefix="aftercare-pdf-") as folder:
        copy = Path(folder) / "document.pdf"
        copy.write_bytes(content)
        try:
            return read_pdf_text(copy, Path(path.name))
        except DocumentError as exc:
            return f"(no text: {exc.problem})"


def _report_for(report: IngestReport, doc_id: str, path: str) -> DocumentReport | None:
    return next((d for d in report.documents if d.doc_id == doc_id or d.path == path), None)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name

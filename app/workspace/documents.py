"""The clinicians' document desk: list, open, draft, upload, approve and retire.

The corpus folder stays the source of truth: approval writes the approved file (and
removes the draft), retirement rewrites its status, and each re-ingests at once so the
running assistant answers from the change within seconds. Every action is recorded in
``document_versions`` and in the audit log with the version before and after.

``DocumentDesk`` is the whole desk: reading (``document_shelf``), drafting
(``document_drafting``) and, here, approval, retirement and the index bookkeeping.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.errors import DocumentConflictError, DocumentRejectedError, UnknownDocumentError
from app.people.directory import StaffMember
from app.workspace.document_corpus import (
    CorpusEntry,
    approved_version,
    dump_sidecar,
    relative_path,
    report_for,
    snapshot,
)
from app.workspace.document_drafting import DraftingDesk
from app.workspace.document_files import render_markdown, split_front_matter, write_atomically
from app.workspace.document_records import DocumentIndexRow, DocumentVersionRow
from app.workspace.document_views import ActionResult
from app.workspace.drafts import Draft
from ingestion.documents import SourceFile, load_document
from ingestion.errors import DocumentError
from ingestion.index import IngestReport


class DocumentDesk(DraftingDesk):
    """The shelf and the drafting desk, plus approval, retirement and index bookkeeping."""

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
            before = approved_version(entry)
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
            outcome = report_for(report, doc_id, relative_path(main, self.corpus_dir))
            if outcome is None or outcome.status == "failed":
                reason = outcome.error if outcome else "it did not reach the index"
                for path in files:
                    if path not in backups:
                        path.unlink(missing_ok=True)
                write_atomically({**backups, **old_backups} or {})
                self._ingest()
                raise DocumentRejectedError(f"not approved: {reason}")
            kept = snapshot(files)
            self._record(doc_id, version, "approved", before, staff, files, kept)
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
                files = {entry.source.metadata_path: dump_sidecar(meta).encode("utf-8")}
            else:
                _, body = split_front_matter(entry.text)
                files = {entry.source.path: render_markdown(meta, body).encode("utf-8")}
            write_atomically(files)
            report = self._ingest()
            outcome = report_for(report, doc_id, entry.path)
            self._record(doc_id, version, "retired", version, staff, files, snapshot(files))
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
            (target_dir / f"{name}.yaml").write_text(dump_sidecar(meta), "utf-8")
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

    def _approved_files(
        self, doc_id: str, draft: Draft, meta: Mapping[str, Any], entry: CorpusEntry | None
    ) -> dict[Path, bytes]:
        if entry is not None and entry.kind == draft.kind:
            target = entry.source.path
        else:
            target = self.corpus_dir / f"{doc_id}.{draft.kind}"
        if draft.kind == "pdf":
            return {
                target.with_name(target.name + ".yaml"): dump_sidecar(meta).encode("utf-8"),
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
                    path=relative_path(main, self.corpus_dir),
                    text=text,
                )
            )

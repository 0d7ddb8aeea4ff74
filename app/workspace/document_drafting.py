"""Drafting the clinicians' documents: edits in the page and uploads, saved as drafts.

``DraftingDesk`` adds to the shelf the two ways a draft is made. A draft is checked
before it is kept: it must load as a corpus document, carry a version other than the
approved one, and start from the revision now stored (else ``DocumentConflictError``
returns both texts and nothing is lost). Each save is audited.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import (
    DocumentConflictError,
    DocumentRejectedError,
    UnknownDocumentError,
    UploadTooLargeError,
)
from app.people.directory import StaffMember
from app.workspace.document_corpus import CorpusEntry, approved_version, dump_sidecar
from app.workspace.document_files import parse_metadata, render_markdown, split_front_matter
from app.workspace.document_shelf import DocumentShelf
from app.workspace.drafts import Draft
from ingestion.documents import SourceFile, load_document
from ingestion.errors import DocumentError

# Form fields an upload may carry as metadata (a PDF's, or a text file without front matter).
METADATA_FIELDS = ("id", "title", "version", "reviewed_by", "reviewed_on", "review_due", "sources")


@dataclass
class Upload:
    """A file as uploaded, with the metadata given beside it."""

    filename: str
    content: bytes
    fields: dict[str, str] = field(default_factory=dict)
    metadata_file: bytes | None = None
    replaces: str | None = None
    base_revision: str | None = None


class DraftingDesk(DocumentShelf):
    """The shelf, plus saving edits and uploads as drafts."""

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
            text = dump_sidecar(fields)
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
            detail=f"draft version {draft.version} (approved: {approved_version(entry) or 'none'})",
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
            content, sidecar = upload.content, dump_sidecar(meta)
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
        draft = Draft(
            doc_id, kind, content, sidecar, staff.name, self._clock(), approved_version(entry)
        )
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
            f"(approved: {approved_version(entry) or 'none'})",
        )
        return draft

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
        approved = approved_version(entry)
        if approved is not None and draft.version == approved:
            raise DocumentRejectedError(
                f"field 'version': version {approved} is already approved; "
                "give the changed document a new version"
            )


def _form_meta(form: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {k: v.strip() for k, v in form.items() if k != "sources"}
    if "sources" in form:
        meta["sources"] = [s.strip() for s in form["sources"].splitlines() if s.strip()]
    return meta

"""Drafts: documents saved but not approved, in their own folder, never indexed.

One folder per document id holds the draft file (``document.md``, ``document.txt`` or
``document.pdf`` with ``document.pdf.yaml``) and ``draft.json`` (who saved it, when, and
the approved version it replaces). A save replaces the whole folder at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.errors import CorpusNotWritableError, DocumentRejectedError
from app.workspace.document_files import parse_metadata, revision, split_front_matter

KINDS = ("md", "txt", "pdf")
_DOC_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,80}")


def _folder_name(doc_id: str) -> str:
    """A document id is a folder name only when it is a valid id (never a path)."""
    if not _DOC_ID.fullmatch(doc_id):
        raise DocumentRejectedError(
            f"field 'id': {doc_id!r} is not a valid id (lowercase letters, digits and hyphens)"
        )
    return doc_id


@dataclass(frozen=True)
class Draft:
    doc_id: str
    kind: str
    content: bytes
    metadata_text: str | None
    saved_by: str
    saved_at: datetime
    based_on: str | None

    @property
    def revision(self) -> str:
        parts = [self.content]
        if self.metadata_text is not None:
            parts.append(self.metadata_text.encode("utf-8"))
        return revision(*parts)

    @property
    def meta(self) -> dict[str, Any]:
        if self.kind == "pdf":
            return parse_metadata(self.metadata_text or "")
        return split_front_matter(self.text)[0]

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    @property
    def text(self) -> str:
        """What a clinician edits: the Markdown or text file, or a PDF's metadata file."""
        if self.kind == "pdf":
            return self.metadata_text or ""
        return self.content.decode("utf-8-sig")

    @property
    def file_name(self) -> str:
        return f"document.{self.kind}"


class DraftStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, doc_id: str) -> Draft | None:
        if not _DOC_ID.fullmatch(doc_id):
            return None
        folder = self.root / doc_id
        info_path = folder / "draft.json"
        if not info_path.is_file():
            return None
        info = json.loads(info_path.read_text("utf-8"))
        kind = str(info["kind"])
        content = (folder / f"document.{kind}").read_bytes()
        sidecar = folder / f"document.{kind}.yaml"
        return Draft(
            doc_id=doc_id,
            kind=kind,
            content=content,
            metadata_text=sidecar.read_text("utf-8") if kind == "pdf" else None,
            saved_by=str(info["saved_by"]),
            saved_at=datetime.fromisoformat(str(info["saved_at"])),
            based_on=info.get("based_on"),
        )

    def all(self) -> list[Draft]:
        if not self.root.is_dir():
            return []
        found = [self.get(p.name) for p in sorted(self.root.iterdir()) if p.is_dir()]
        return [d for d in found if d is not None]

    def save(self, draft: Draft) -> Draft:
        if draft.kind not in KINDS:
            raise DocumentRejectedError(f"drafts are Markdown, text or PDF, not {draft.kind!r}")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".{_folder_name(draft.doc_id)}.{uuid.uuid4().hex[:8]}"
            staging.mkdir()
            (staging / draft.file_name).write_bytes(draft.content)
            if draft.kind == "pdf":
                (staging / f"{draft.file_name}.yaml").write_text(draft.metadata_text or "", "utf-8")
            info = {
                "kind": draft.kind,
                "saved_by": draft.saved_by,
                "saved_at": draft.saved_at.isoformat(),
                "based_on": draft.based_on,
            }
            (staging / "draft.json").write_text(json.dumps(info), "utf-8")
        except OSError as exc:
            raise CorpusNotWritableError(
                f"cannot write the drafts folder ({exc.strerror or exc}); nothing was changed"
            ) from exc
        target = self.root / draft.doc_id
        old = self.root / f".{draft.doc_id}.old.{uuid.uuid4().hex[:8]}"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
        return draft

    def delete(self, doc_id: str) -> None:
        target = self.root / _folder_name(doc_id)
        if target.exists():
            old = self.root / f".{doc_id}.gone.{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)

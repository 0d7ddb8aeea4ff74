"""Files of the corpus folder as the document desk reads them.

``CorpusEntry`` is one file (and a PDF's metadata file) with its metadata read leniently,
so a broken file still shows in the list with its error. The helpers read a file's
approved version, write a PDF's metadata file, and keep a version's text for its history
(a PDF's metadata and extracted text).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import DocumentRejectedError
from app.workspace.document_files import (
    parse_metadata,
    render_markdown,
    revision,
    split_front_matter,
)
from app.workspace.drafts import Draft
from ingestion.documents import CorpusDocument, SourceFile
from ingestion.errors import DocumentError
from ingestion.index import DocumentReport, IngestReport
from ingestion.pdf_text import read_pdf_text


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


def raw_meta(source: SourceFile) -> dict[str, Any]:
    try:
        if source.kind == "pdf":
            if source.metadata_path is None or not source.metadata_path.is_file():
                return {}
            return parse_metadata(source.metadata_path.read_text("utf-8"))
        return split_front_matter(source.path.read_bytes().decode("utf-8-sig"))[0]
    except (DocumentRejectedError, OSError, UnicodeDecodeError):
        return {}


def approved_version(entry: CorpusEntry | None) -> str | None:
    if entry is None or entry.meta.get("version") is None:
        return None
    if entry.meta.get("status") != "approved":
        return None
    return str(entry.meta["version"])


def dump_sidecar(meta: Mapping[str, Any]) -> str:
    return render_markdown(meta, "").removeprefix("---\n").removesuffix("---\n")


def snapshot(files: Mapping[Path, bytes]) -> str:
    """The text of a version as kept for its history: a PDF's metadata and its text."""
    parts: list[str] = []
    for path, content in sorted(files.items(), key=lambda item: item[0].suffix != ".yaml"):
        if path.suffix.lower() == ".pdf":
            parts.append(_pdf_text(path, content))
        else:
            parts.append(content.decode("utf-8-sig", errors="replace"))
    return "\n".join(parts)


def draft_snapshot(draft: Draft) -> str:
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


def report_for(report: IngestReport, doc_id: str, path: str) -> DocumentReport | None:
    return next((d for d in report.documents if d.doc_id == doc_id or d.path == path), None)


def relative_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name

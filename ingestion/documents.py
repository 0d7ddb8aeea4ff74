"""Corpus documents: discovery, loading and validation.

A document is Markdown (``.md``) with YAML front matter, plain text (``.txt``) with the
same front matter, or a PDF (``.pdf``) whose metadata sits in a sidecar ``NAME.pdf.yaml``.
Clinic-specific numbers are written as ``{{ clinic.KEY }}`` and filled in from the
clinic configuration when the document is loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingestion.errors import DocumentError
from ingestion.pdf_text import read_pdf_text

DOCUMENT_SUFFIXES = (".md", ".txt", ".pdf")
SIDECAR_SUFFIX = ".yaml"

Status = Literal["draft", "approved", "retired"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{\s*clinic\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}", re.DOTALL)


class FrontMatter(BaseModel):
    """The metadata every document carries; see corpus/README.md."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,80}$")
    title: str = Field(min_length=3, max_length=200)
    version: str = Field(min_length=1, max_length=40)
    status: Status
    reviewed_by: str = Field(min_length=2)
    reviewed_on: date
    review_due: date
    sources: list[str] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("sources")
    @classmethod
    def _sources_not_blank(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("sources must not contain blank entries")
        return value

    @model_validator(mode="after")
    def _due_after_review(self) -> FrontMatter:
        if self.review_due <= self.reviewed_on:
            raise ValueError("review_due must be after reviewed_on")
        return self


@dataclass(frozen=True)
class SourceFile:
    """A document file found in the corpus folder, with its metadata file if separate."""

    path: Path
    metadata_path: Path | None

    @property
    def kind(self) -> str:
        return self.path.suffix.lower().lstrip(".")


@dataclass(frozen=True)
class CorpusDocument:
    """A validated document, its body with clinic values filled in, and its content hash."""

    path: Path
    meta: FrontMatter
    body: str
    content_hash: str

    @property
    def doc_id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def indexable(self) -> bool:
        return self.meta.status == "approved"


def discover(corpus_dir: Path) -> list[SourceFile]:
    """Every document file under ``corpus_dir``, sorted, skipping README files and sidecars."""
    if not corpus_dir.is_dir():
        raise DocumentError(corpus_dir, "corpus folder does not exist")
    found: list[SourceFile] = []
    for path in sorted(corpus_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in DOCUMENT_SUFFIXES:
            continue
        if path.name.lower().startswith("readme") or any(p.startswith(".") for p in path.parts):
            continue
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        found.append(SourceFile(path, sidecar if path.suffix.lower() == ".pdf" else None))
    return found


def load_document(
    source: SourceFile, placeholders: Mapping[str, str], root: Path | None = None
) -> CorpusDocument:
    """Read, validate and fill in one document. Raises DocumentError naming file and field."""
    shown = source.path.relative_to(root) if root else source.path
    if source.kind == "pdf":
        meta_raw, body = _load_pdf(source, shown)
    else:
        meta_raw, body = _split_front_matter(_read_text(source.path, shown), shown)
    meta = _validate(meta_raw, shown)
    body = _fill_placeholders(body, placeholders, shown)
    if not body.strip():
        raise DocumentError(shown, "has front matter but no text")
    return CorpusDocument(source.path, meta, body, _content_hash(meta, body))


def duplicate_ids(documents: Iterable[CorpusDocument]) -> dict[str, list[Path]]:
    """Ids used by more than one file, with those files."""
    seen: dict[str, list[Path]] = {}
    for doc in documents:
        seen.setdefault(doc.doc_id, []).append(doc.path)
    return {doc_id: paths for doc_id, paths in seen.items() if len(paths) > 1}


def _read_text(path: Path, shown: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise DocumentError(shown, "is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            shown, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8 and ingest again"
        ) from exc


def _split_front_matter(text: str, shown: Path) -> tuple[object, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise DocumentError(shown, "has no front matter: it must start with a '---' block")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise DocumentError(shown, f"front matter is not valid YAML: {exc}") from exc
    return meta, text[match.end() :]


def _load_pdf(source: SourceFile, shown: Path) -> tuple[object, str]:
    sidecar = source.metadata_path
    if sidecar is None or not sidecar.is_file():
        raise DocumentError(
            shown, f"has no metadata file: add {source.path.name}{SIDECAR_SUFFIX} beside it"
        )
    try:
        meta = yaml.safe_load(_read_text(sidecar, shown.with_name(sidecar.name)))
    except yaml.YAMLError as exc:
        raise DocumentError(shown.with_name(sidecar.name), f"is not valid YAML: {exc}") from exc
    return meta, read_pdf_text(source.path, shown)


def _validate(meta: object, shown: Path) -> FrontMatter:
    if not isinstance(meta, dict):
        raise DocumentError(shown, "front matter must be a set of 'field: value' lines")
    try:
        return FrontMatter.model_validate(meta)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or 'front matter'}': {err['msg']}"
            for err in exc.errors()
        )
        raise DocumentError(shown, f"invalid front matter: {problems}") from exc


def _fill_placeholders(body: str, values: Mapping[str, str], shown: Path) -> str:
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(body)} - values.keys())
    if unknown:
        raise DocumentError(
            shown, f"unknown clinic placeholder(s): {', '.join(unknown)}; see the clinic file"
        )
    filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)
    leftover = _ANY_BRACES.search(filled)
    if leftover:
        raise DocumentError(shown, f"malformed placeholder {leftover.group(0)!r}")
    return filled


def _content_hash(meta: FrontMatter, body: str) -> str:
    # Only fields that change what a patient hears or sees belong in the hash.
    stable = f"{meta.id}\n{meta.title}\n{meta.version}\n{body}"
    return hashlib.sha256(stable.encode("utf-8")).hexdigest()

"""Document files on disk: front matter in and out, revisions, and atomic writes.

A revision is the SHA-256 of a document's bytes (a PDF's bytes followed by its
metadata file's): the token an edit carries to prove what it was based on.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from app.errors import CorpusNotWritableError, DocumentRejectedError

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# Front matter fields in the order clinicians read them.
FIELD_ORDER = ("id", "title", "version", "status", "reviewed_by", "reviewed_on", "review_due")


def revision(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter as a mapping and the body; DocumentRejectedError when malformed."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise DocumentRejectedError("the text has no front matter: it must start with '---'")
    return parse_metadata(match.group(1)), text.lstrip("\ufeff")[match.end() :]


def parse_metadata(text: str) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentRejectedError(f"the metadata is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise DocumentRejectedError("the metadata must be a set of 'field: value' lines")
    return {str(k): v for k, v in meta.items()}


def dump_metadata(meta: Mapping[str, Any]) -> str:
    ordered: dict[str, Any] = {k: meta[k] for k in FIELD_ORDER if k in meta}
    ordered.update({k: v for k, v in meta.items() if k not in ordered})
    for key, value in ordered.items():
        if key == "version":
            ordered[key] = str(value)
        elif isinstance(value, date):
            ordered[key] = value
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def render_markdown(meta: Mapping[str, Any], body: str) -> str:
    return f"---\n{dump_metadata(meta)}---\n{body.lstrip(chr(10))}"


def write_atomically(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all go to hidden temporary names first, then into place."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, content in files.items():
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((temporary, target))
    except OSError as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        folder = next(iter(files)).parent
        raise CorpusNotWritableError(
            f"cannot write to the folder {folder.name!r} ({exc.strerror or exc}); "
            "nothing was changed"
        ) from exc
    for temporary, target in staged:
        os.replace(temporary, target)

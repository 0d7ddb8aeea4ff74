"""Text out of PDFs, with section headings recovered as Markdown headings."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

from ingestion.errors import DocumentError

_MIN_TEXT_CHARS = 40
_HEADING = re.compile(r"^[A-Z0-9][^.!?:;,]{1,58}[^.!?:;,\s]$")


def read_pdf_text(path: Path, shown: Path) -> str:
    """The text as light Markdown; DocumentError for corrupt, locked or scanned files."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(shown, "is password-protected: save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError(shown, "is password-protected: save an unprotected copy") from exc
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(shown, f"is not a readable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n".join(pages)
    if len(re.sub(r"\s", "", text)) < _MIN_TEXT_CHARS:
        raise DocumentError(
            shown, "has no text layer (a scan or image): export it with selectable text"
        )
    return _as_markdown(text)


def _as_markdown(text: str) -> str:
    """Short title-like lines become headings; wrapped lines join into paragraphs."""
    blocks: list[str] = []
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            blocks.append(" ".join(paragraph))
            paragraph.clear()

    first_heading = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            close()
            continue
        if _HEADING.match(line) and (not paragraph or paragraph[-1].endswith((".", "!", "?", ":"))):
            close()
            blocks.append(("# " if first_heading else "## ") + line)
            first_heading = False
            continue
        paragraph.append(line)
    close()
    return "\n\n".join(blocks) + "\n"

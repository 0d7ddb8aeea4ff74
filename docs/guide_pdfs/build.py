"""Build a corpus PDF (with a real text layer) from its plain-text source.

The source is the guide's wording: the first line ``# Title``, each section under a
``## Heading`` line in Title Case without a full stop, paragraphs separated by blank
lines. PDFs cannot carry ``{{ clinic.NAME }}`` placeholders, so write clinic values out.

    .venv/bin/python docs/guide_pdfs/build.py docs/guide_pdfs/pelvic-floor-exercises.txt

writes ``corpus/pelvic-floor-exercises.pdf``; then bump the version and review fields in
its ``.pdf.yaml`` sidecar.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def parse(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """The title and, per section, its heading and paragraphs."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("the first line must be '# Title'")
    title = lines[0][2:].strip()
    sections: list[tuple[str, list[str]]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            if not sections:
                raise ValueError("text before the first '## Heading'")
            sections[-1][1].append(" ".join(paragraph))
            paragraph.clear()

    for line in lines[1:]:
        if line.startswith("## "):
            flush()
            heading = line[3:].strip()
            if heading.endswith(".") or "{{" in heading:
                raise ValueError(f"heading {heading!r}: no full stop, no placeholders")
            sections.append((heading, []))
        elif not line.strip():
            flush()
        else:
            if "{{" in line:
                raise ValueError("PDFs cannot carry clinic placeholders; write the value out")
            paragraph.append(line.strip())
    flush()
    if len(sections) < 4:
        raise ValueError("a guide needs at least four sections")
    return title, sections


def build(source: Path, author: str, out_dir: Path = CORPUS) -> Path:
    title, sections = parse(source.read_text(encoding="utf-8"))
    pdf = FPDF()
    pdf.set_author(author)
    pdf.set_title(title)
    pdf.set_creation_date(datetime.now(UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    for heading, paragraphs in sections:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
    target = out_dir / f"{source.stem}.pdf"
    pdf.output(str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--author", default="Demo clinic urology nursing team")
    args = parser.parse_args(argv)
    for source in args.sources:
        try:
            print(build(source, args.author))
        except (OSError, ValueError) as exc:
            print(f"{source}: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Loading documents: front matter, placeholders, PDFs, and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from escalation.clinic import ClinicConfig
from ingestion.documents import SourceFile, discover, load_document
from ingestion.errors import DocumentError

VALUES = ClinicConfig().placeholders()

FRONT = """---
id: {id}
title: A test document
version: "1.0"
status: {status}
reviewed_by: Test team
reviewed_on: 2026-01-01
review_due: 2027-01-01
sources:
  - "A source"
---
"""


def write_md(
    folder: Path, name: str, body: str, *, doc_id: str = "test-doc", status: str = "approved"
) -> Path:
    path = folder / name
    path.write_text(FRONT.format(id=doc_id, status=status) + body, encoding="utf-8")
    return path


def make_pdf(path: Path, lines: list[str]) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def sidecar(path: Path, doc_id: str = "pdf-doc") -> None:
    Path(str(path) + ".yaml").write_text(
        FRONT.format(id=doc_id, status="approved").strip().strip("-").strip() + "\n",
        encoding="utf-8",
    )


def load(path: Path, meta: Path | None = None) -> object:
    return load_document(SourceFile(path, meta), VALUES, root=path.parent)


def test_markdown_loads_with_placeholders_filled(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "# A test document\n\nCall {{ clinic.on_call_phone }}.\n")
    doc = load_document(SourceFile(path, None), VALUES)
    assert doc.doc_id == "test-doc" and doc.indexable
    assert VALUES["on_call_phone"] in doc.body and "{{" not in doc.body


def test_changing_a_clinic_value_changes_the_hash(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "Call {{ clinic.on_call_phone }}.\n")
    first = load_document(SourceFile(path, None), VALUES)
    second = load_document(SourceFile(path, None), {**VALUES, "on_call_phone": "0800 1"})
    assert first.content_hash != second.content_hash


def test_review_dates_do_not_change_the_hash(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "Some text here.\n")
    first = load_document(SourceFile(path, None), VALUES).content_hash
    path.write_text(path.read_text().replace("2027-01-01", "2028-01-01"))
    assert load_document(SourceFile(path, None), VALUES).content_hash == first


@pytest.mark.parametrize(
    ("front", "field"),
    [
        ("id: ''", "id"),
        ("status: published", "status"),
        ("review_due: 2020-01-01", "review_due"),
        ("sources: []", "sources"),
        ("reviewed_on: not-a-date", "reviewed_on"),
    ],
)
def test_invalid_front_matter_names_the_field(tmp_path: Path, front: str, field: str) -> None:
    path = write_md(tmp_path, "a.md", "Text.\n")
    key = front.split(":")[0]
    lines = [
        front if line.startswith(key + ":") else line for line in path.read_text().splitlines()
    ]
    if key == "sources":
        lines = [ln for ln in lines if not ln.startswith("  - ")]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DocumentError) as err:
        load(path)
    assert "a.md" in str(err.value) and field in str(err.value)


def test_missing_id_is_named(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "Text.\n")
    path.write_text(
        "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("id:"))
    )
    with pytest.raises(DocumentError, match="field 'id'"):
        load(path)


def test_no_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("# Just a heading\n\nAnd text.\n")
    with pytest.raises(DocumentError, match="no front matter"):
        load(path)


def test_empty_and_whitespace_files(tmp_path: Path) -> None:
    for name, content in (("empty.md", ""), ("blank.txt", "  \n\t\n")):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(DocumentError, match="is empty"):
            load(path)


def test_front_matter_without_text(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "\n\n")
    with pytest.raises(DocumentError, match="no text"):
        load(path)


def test_non_utf8_text(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(
        (FRONT.format(id="latin", status="approved") + "Caf\xe9 au lait.\n").encode("latin-1")
    )
    with pytest.raises(DocumentError, match="not UTF-8"):
        load(path)


def test_unknown_placeholder(tmp_path: Path) -> None:
    path = write_md(tmp_path, "a.md", "Call {{ clinic.unknown_number }}.\n")
    with pytest.raises(DocumentError, match="unknown_number"):
        load(path)


def test_pdf_with_sidecar_recovers_headings(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "sheet.pdf",
        [
            "Pelvic Floor Basics",
            "Squeeze the muscles you use to stop passing urine. Hold them.",
            "How Often",
            "Do the exercises three times a day, every day, for months.",
        ],
    )
    sidecar(path)
    doc = load(path, Path(str(path) + ".yaml"))
    assert doc.doc_id == "pdf-doc"  # type: ignore[attr-defined]
    assert "## How Often" in doc.body  # type: ignore[attr-defined]


def test_pdf_without_sidecar(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "lonely.pdf", ["Some text that is long enough to count as text."])
    with pytest.raises(DocumentError, match="no metadata file"):
        load(path, Path(str(path) + ".yaml"))


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage garbage\n")
    sidecar(path)
    with pytest.raises(DocumentError, match=r"broken\.pdf.*(not a readable PDF|no text layer)"):
        load(path, Path(str(path) + ".yaml"))


def test_encrypted_pdf(tmp_path: Path) -> None:
    plain = make_pdf(tmp_path / "plain.pdf", ["Some text that is long enough to count as text."])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    sidecar(path)
    with pytest.raises(DocumentError, match="password-protected"):
        load(path, Path(str(path) + ".yaml"))


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    sidecar(path)
    with pytest.raises(DocumentError, match="no text layer"):
        load(path, Path(str(path) + ".yaml"))


def test_discover_skips_readme_and_sidecars(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# How to\n")
    write_md(tmp_path, "a.md", "Text.\n")
    pdf = make_pdf(tmp_path / "b.pdf", ["Some text that is long enough to count as text."])
    sidecar(pdf)
    found = discover(tmp_path)
    assert [f.path.name for f in found] == ["a.md", "b.pdf"]
    assert found[1].metadata_path == Path(str(pdf) + ".yaml")


def test_missing_corpus_folder(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="does not exist"):
        discover(tmp_path / "nope")

"""Documents the workspace tests upload: a Markdown guide and a PDF leaflet."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

ALCOHOL_MD = """---
id: {doc_id}
title: Alcohol after your operation
version: "1"
status: draft
reviewed_by: Nurse Lee
reviewed_on: 2026-11-01
review_due: 2027-11-01
sources:
  - "Ward leaflet"
---
# Alcohol after your operation

## Drinking alcohol
You can drink a small amount of alcohol once you are home. Avoid alcohol while you take
strong painkillers, because together they make you drowsy.

## Alcohol and the bladder
Alcohol makes you pass more urine and can make leaking worse for a while.
"""

FLYING_LINES = [
    "Flying after your operation",
    "Air travel",
    "You can take a short flight two weeks after your operation. Wait four weeks before "
    "a long-haul flight, and walk around the cabin every hour to keep the blood moving.",
    "Travel insurance",
    "Tell your travel insurer about your operation before you book a flight abroad.",
]


def pdf_bytes(lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def scanned_pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")
    return bytes(pdf.output())


def encrypted_pdf_bytes(tmp: Path) -> bytes:
    from pypdf import PdfReader, PdfWriter

    plain = tmp / "plain.pdf"
    plain.write_bytes(pdf_bytes(FLYING_LINES))
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    locked = tmp / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    return locked.read_bytes()


def flying_form(doc_id: str, version: str = "1") -> dict[str, str]:
    return {
        "id": doc_id,
        "title": "Flying after your operation",
        "version": version,
        "sources": "Airline medical guidance\nWard leaflet",
    }

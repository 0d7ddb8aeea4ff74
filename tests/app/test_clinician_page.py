"""The clinician workspace in headless Chromium against the live app over loopback.

The page tests write the workspace screenshots in ``docs/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("headless Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright  # noqa: E402

from tests.app.conftest import WorkspaceApp  # noqa: E402
from tests.app.workspace_docs import ALCOHOL_MD, FLYING_LINES, pdf_bytes  # noqa: E402

# The workspace app starts once per session; on a loaded machine that takes minutes.
pytestmark = pytest.mark.timeout(900)

# The screenshots in docs/ are refreshed only when asked (AFTERCARE_REFRESH_SCREENSHOTS=1);
# an ordinary run writes them to a scratch folder so that a checkout stays clean.
DOCS = (
    Path(__file__).parents[2] / "docs"
    if os.environ.get("AFTERCARE_REFRESH_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "aftercare-screenshots"
)
DOCS.mkdir(parents=True, exist_ok=True)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WAIT_MS = 60_000
FLY = "When can I fly after my operation?"
AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as running:
        launched = _launch(running)
        yield launched
        launched.close()


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # Refusals the page handles (a 409 conflict, a 403) are logged by the browser as failed
    # loads; any other console error fails the test.
    opened.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    context.close()
    assert errors == [], errors


def sign_in(page: Page, app: WorkspaceApp, key: str) -> None:
    page.goto(app.base_url + "/clinician")
    page.get_by_label("Staff key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#workspace")).to_be_visible()


def cli_ask(app: WorkspaceApp, question: str) -> dict[str, Any]:
    """``aftercare ask --json`` against the running server."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("aftercare")),
            "ask",
            "--server",
            app.base_url,
            "--json",
            question,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    body: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return body


def test_clinician_uploads_previews_approves_and_retires_a_pdf(
    page: Page, workspace_app: WorkspaceApp
) -> None:
    app = workspace_app
    sign_in(page, app, app.clinician_key)
    expect(page.locator("#who")).to_contain_text("Dr Ada Clinician (clinician)")
    expect(page.locator('#documents tr[data-id="driving"]')).to_contain_text("approved")

    page.locator("#upload-panel summary").click()
    form = page.locator("#upload-form")
    form.get_by_label("File (Markdown, text or PDF)").set_input_files(
        {"name": "leaflet.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(FLYING_LINES)}
    )
    form.get_by_label("Id", exact=True).fill("leaflet-flying")
    form.get_by_label("Title", exact=True).fill("Flying after your operation")
    form.get_by_label("Version", exact=True).fill("1")
    form.get_by_label("Sources (one a line)").fill("Airline medical guidance")
    form.get_by_role("button", name="Upload as draft").click()
    expect(page.locator("#upload-done")).to_contain_text(
        "leaflet-flying, version 1", timeout=WAIT_MS
    )
    document = page.locator("#document")
    expect(document).to_have_attribute("data-id", "leaflet-flying")
    expect(page.locator('#documents tr[data-id="leaflet-flying"]')).to_contain_text("draft")

    page.get_by_label("A patient's question").fill(FLY)
    page.get_by_role("button", name="Preview answer").click()
    expect(page.locator("#preview-draft")).to_contain_text(
        "Flying after your operation (version 1)", timeout=WAIT_MS
    )
    expect(page.locator("#preview-current")).not_to_contain_text("Flying after your operation")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "clinician-preview.png"), full_page=True)
    # Patients do not hear the draft.
    assert all(s["doc_id"] != "leaflet-flying" for s in cli_ask(app, FLY)["sources"])

    page.get_by_role("button", name="Approve version 1").click()
    expect(page.locator("#document-done")).to_contain_text("Approved version 1", timeout=WAIT_MS)
    expect(page.locator('#documents tr[data-id="leaflet-flying"]')).to_contain_text("approved")
    answered = cli_ask(app, FLY)
    assert answered["outcome"] == "answered", answered
    assert answered["sources"][0]["doc_id"] == "leaflet-flying"
    assert answered["sources"][0]["version"] == "1"
    expect(page.locator("#document-history tbody tr").first).to_contain_text("Dr Ada Clinician")

    page.get_by_role("button", name="Retire").click()
    expect(page.locator("#document-done")).to_contain_text("Retired version 1", timeout=WAIT_MS)
    expect(page.locator("#document-done")).to_contain_text("It served 1 answers")
    assert all(s["doc_id"] != "leaflet-flying" for s in cli_ask(app, FLY)["sources"])

    trail = [
        (r.action, r.actor)
        for r in app.services.people.audit_trail(limit=1000)
        if r.resource == "document:leaflet-flying"
    ]
    actor = f"staff:{app.clinician_id}"
    assert trail == [
        ("document.retire", actor),
        ("document.approve", actor),
        ("document.upload", actor),
    ]


def test_documents_list_flags_overdue_and_a_stale_edit_shows_both_texts(
    page: Page, workspace_app: WorkspaceApp
) -> None:
    app = workspace_app
    overdue = (
        ALCOHOL_MD.format(doc_id="stoma-old")
        .replace("status: draft", "status: approved")
        .replace("reviewed_on: 2026-11-01", "reviewed_on: 2024-02-01")
        .replace("review_due: 2027-11-01", "review_due: 2025-02-01")
        .replace("Alcohol after your operation", "Bladder diary (old)")
    )
    (app.settings.corpus_dir / "stoma-old.md").write_text(overdue)
    app.services.ingest()
    sign_in(page, app, app.clinician_key)
    row = page.locator('#documents tr[data-id="stoma-old"]')
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row.locator(".review-due")).to_contain_text("Overdue")
    expect(page.locator("#overdue-note")).to_be_visible()
    page.screenshot(path=str(DOCS / "clinician-documents.png"), full_page=True)

    row.get_by_role("button").first.click()
    expect(page.locator("#document")).to_have_attribute("data-id", "stoma-old")
    page.locator("#draft-panel summary").click()
    draft_form = page.locator("#draft-form")
    draft_form.get_by_label("Version", exact=True).fill("2")
    body = draft_form.get_by_label("Text (Markdown)")
    body.fill(body.input_value() + "\nMy sentence from the page.\n")
    # Meanwhile someone else saves a draft of the same document.
    detail = httpx.get(f"{app.base_url}/v1/documents/stoma-old", headers=app.headers()).json()
    other = httpx.put(
        f"{app.base_url}/v1/documents/stoma-old/draft",
        headers=app.headers(app.admin_key),
        json={
            "base_revision": detail["revision"],
            "front_matter": {**detail["meta"], "version": "1.5"},
            "body": "# Bladder diary\n\nTheir sentence saved first.\n",
        },
    )
    assert other.status_code == 200, other.text
    page.get_by_role("button", name="Save draft").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#conflict-theirs")).to_contain_text("Their sentence saved first.")
    expect(page.locator("#conflict-yours")).to_contain_text("My sentence from the page.")
    page.screenshot(path=str(DOCS / "clinician-conflict.png"), full_page=True)
    overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], overflow


def test_coordinator_reads_but_cannot_change(page: Page, workspace_app: WorkspaceApp) -> None:
    sign_in(page, workspace_app, workspace_app.coordinator_key)
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#upload-panel")).to_be_hidden()
    page.locator('#documents tr[data-id="driving"]').get_by_role("button").first.click()
    expect(page.locator("#document")).to_have_attribute("data-id", "driving")
    expect(page.get_by_role("button", name="Retire")).to_be_hidden()


def test_conversation_review_and_gaps(page: Page, workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    for question in (
        "how long will the catheter stay in?",
        "<img src=x onerror=alert(1)> can I eat curry tonight?",
        "Is spicy food bad for my bladder?",
        "Does coffee irritate my bladder?",
        "Should I avoid fizzy drinks because of my bladder?",
    ):
        httpx.post(app.base_url + "/v1/ask", json={"question": question}, timeout=120)
    sign_in(page, app, app.clinician_key)
    page.get_by_role("button", name="Conversations").click()
    page.get_by_label("Outcome", exact=True).select_option("answered")
    page.get_by_label("Document", exact=True).select_option("catheter")
    page.get_by_role("button", name="Show").click()
    turn = page.locator("#turns > li").first
    expect(turn.locator(".patient-question")).to_have_text("how long will the catheter stay in?")
    expect(turn).to_contain_text("catheter version")
    turn.get_by_label("Note for a mark").fill("Our team removes it at 14 days.")
    turn.get_by_role("button", name="Mark wrong").click()
    expect(page.locator("#turns > li").first.locator(".mark")).to_have_text(
        "Marked wrong: Our team removes it at 14 days."
    )
    page.screenshot(path=str(DOCS / "clinician-conversations.png"), full_page=True)

    page.get_by_label("Outcome", exact=True).select_option("escalated")
    page.get_by_label("Document", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#turns > li").first).to_be_visible()
    assert page.locator("#turns img").count() == 0

    page.get_by_role("button", name="Gaps report").click()
    page.get_by_role("button", name="Build the report").click()
    expect(page.locator("#gaps-summary")).to_contain_text("groups", timeout=WAIT_MS)
    expect(page.locator("#gaps > li").first).to_contain_text("nurse calls booked")
    expect(page.locator("#gaps")).to_contain_text("can I eat curry tonight?")
    assert page.locator("#gaps img").count() == 0
    page.screenshot(path=str(DOCS / "clinician-gaps.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = download.value.path()
    assert saved.read_text(encoding="utf-8").startswith("group,questions,nurse_calls_booked")

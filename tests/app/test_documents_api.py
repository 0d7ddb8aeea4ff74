"""The document API of the clinician workspace, against the live app over loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from escalation.webhook import verify_signature
from tests.app.conftest import DIGEST_SECRET, WorkspaceApp
from tests.app.workspace_docs import (
    ALCOHOL_MD,
    FLYING_LINES,
    encrypted_pdf_bytes,
    flying_form,
    pdf_bytes,
    scanned_pdf_bytes,
)

# The workspace app starts once per session; on a loaded machine that takes minutes.
pytestmark = pytest.mark.timeout(900)

TIMEOUT = 120


def get(app: WorkspaceApp, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    return httpx.get(app.base_url + path, headers=app.headers(key), params=params, timeout=TIMEOUT)


def post(app: WorkspaceApp, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(app.base_url + path, headers=app.headers(key), timeout=TIMEOUT, **kwargs)


def upload_md(app: WorkspaceApp, text: str, name: str = "guide.md", **data: str) -> httpx.Response:
    return post(
        app, "/v1/documents", files={"file": (name, text.encode(), "text/markdown")}, data=data
    )


def ask(app: WorkspaceApp, question: str) -> dict[str, Any]:
    response = httpx.post(app.base_url + "/v1/ask", json={"question": question}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit(app: WorkspaceApp, action: str) -> list[Any]:
    return [r for r in app.services.people.audit_trail(limit=1000) if r.action == action]


def corpus_files(app: WorkspaceApp) -> list[str]:
    return sorted(p.name for p in app.settings.corpus_dir.iterdir())


# ---- reading -------------------------------------------------------------------------------


def test_documents_list_with_index_state(workspace_app: WorkspaceApp) -> None:
    response = get(workspace_app, "/v1/documents", workspace_app.coordinator_key)
    assert response.status_code == 200, response.text
    docs = {d["doc_id"]: d for d in response.json()}
    driving = docs["driving"]
    assert driving["status"] == "approved" and driving["version"] == "2"
    assert driving["reviewed_by"] == "Test team" and driving["review_due"] == "2027-01-10"
    assert driving["chunks"] >= 1 and driving["live"] is True
    assert driving["last_indexed_at"] is not None and driving["overdue"] is False
    assert docs["draft-note"]["status"] == "draft" and docs["draft-note"]["live"] is False


def test_open_a_document_shows_text_sections_and_history(workspace_app: WorkspaceApp) -> None:
    response = get(workspace_app, "/v1/documents/driving")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rendered"].startswith("# Driving after your operation")
    assert body["text"].startswith("---\nid: driving")
    assert [s["section"] for s in body["sections"]] == ["When you can drive", "Insurance"]
    assert body["sections"][1]["text"].startswith("Check with your car insurance company")
    assert body["meta"]["review_due"] == "2027-01-10"
    assert body["revision"] and body["draft"] is None and body["history"] == []
    assert get(workspace_app, "/v1/documents/no-such-doc").status_code == 404


# ---- the whole life of a document ------------------------------------------------------------


def test_upload_approve_and_retire_a_markdown_guide(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    question = "Can I drink alcohol after the operation?"
    before = ask(app, question)
    assert all(s["doc_id"] != "alcohol" for s in before["sources"])

    saved = upload_md(app, ALCOHOL_MD.format(doc_id="alcohol"))
    assert saved.status_code == 201, saved.text
    assert saved.json()["id"] == "alcohol" and saved.json()["status"] == "draft"
    # A draft lives outside the corpus and is never indexed.
    assert "alcohol.md" not in corpus_files(app)
    assert (app.settings.drafts_path / "alcohol").is_dir()
    assert all(s["doc_id"] != "alcohol" for s in ask(app, question)["sources"])

    preview = post(
        app, "/v1/documents/alcohol/preview", json={"question": question, "compare": True}
    )
    assert preview.status_code == 200, preview.text
    previewed = preview.json()
    assert previewed["outcome"] == "answered", previewed
    assert previewed["sources"][0]["doc_id"] == "alcohol"
    assert all(s["doc_id"] != "alcohol" for s in previewed["current"]["sources"])

    approved = post(app, "/v1/documents/alcohol/approve", json={"version": "1"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["chunks"] >= 1
    assert "alcohol.md" in corpus_files(app)
    text = (app.settings.corpus_dir / "alcohol.md").read_text()
    assert "status: approved" in text and "reviewed_by: Dr Ada Clinician" in text
    assert not (app.settings.drafts_path / "alcohol").exists()

    answered = ask(app, question)
    assert answered["sources"][0]["doc_id"] == "alcohol"
    assert answered["sources"][0]["version"] == "1"

    detail = get(app, "/v1/documents/alcohol").json()
    assert detail["history"][0]["action"] == "approved"
    assert detail["history"][0]["actor_name"] == "Dr Ada Clinician"
    assert detail["summary"]["review_due"] is not None

    # A second version: edited in the page, previewed, approved; the diff shows the change.
    edited = httpx.put(
        f"{app.base_url}/v1/documents/alcohol/draft",
        headers=app.headers(),
        json={
            "base_revision": detail["revision"],
            "front_matter": {**detail["meta"], "version": "2"},
            "body": detail["text"]
            .split("---\n", 2)[2]
            .replace("a small amount", "one or two units"),
        },
        timeout=TIMEOUT,
    )
    assert edited.status_code == 200, edited.text
    assert post(app, "/v1/documents/alcohol/approve", json={"version": "2"}).status_code == 200
    assert ask(app, question)["sources"][0]["version"] == "2"
    diff = get(app, "/v1/documents/alcohol/diff", old="1", new="2").json()["diff"]
    assert "-version: '1'" in diff and "+version: '2'" in diff
    assert "+You can drink one or two units" in diff

    counts = get(app, "/v1/documents/alcohol").json()["answers_by_version"]
    assert counts.get("1", 0) >= 1 and counts.get("2", 0) >= 1

    retired = post(app, "/v1/documents/alcohol/retire")
    assert retired.status_code == 200, retired.text
    assert retired.json()["answers_served"] >= 1
    assert all(s["doc_id"] != "alcohol" for s in ask(app, question)["sources"])
    listed = {d["doc_id"]: d for d in get(app, "/v1/documents").json()}
    assert listed["alcohol"]["status"] == "retired" and listed["alcohol"]["chunks"] == 0

    approvals = audit(app, "document.approve")
    assert [r.detail.split(";")[0] for r in approvals[:2]] == [
        "version 1 -> 2",
        "version none -> 1",
    ]
    assert all(r.actor == f"staff:{app.clinician_id}" for r in approvals)
    assert audit(app, "document.retire")[0].detail.startswith("version 2 -> retired")
    assert audit(app, "document.upload") and audit(app, "document.draft.save")


def test_pdf_leaflet_with_form_metadata(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    question = "When can I fly after my operation?"
    response = post(
        app,
        "/v1/documents",
        files={"file": ("flying.pdf", pdf_bytes(FLYING_LINES), "application/pdf")},
        data=flying_form("flying"),
    )
    assert response.status_code == 201, response.text
    preview = post(app, "/v1/documents/flying/preview", json={"question": question})
    assert preview.status_code == 200, preview.text
    assert preview.json()["sources"][0]["doc_id"] == "flying"
    assert post(app, "/v1/documents/flying/approve", json={"version": "1"}).status_code == 200
    assert {"flying.pdf", "flying.pdf.yaml"} <= set(corpus_files(app))
    assert ask(app, question)["sources"][0]["doc_id"] == "flying"
    detail = get(app, "/v1/documents/flying").json()
    assert detail["summary"]["kind"] == "pdf" and "Air travel" in detail["rendered"]


# ---- conflicts --------------------------------------------------------------------------------


def test_a_stale_save_is_refused_with_both_texts(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    detail = get(app, "/v1/documents/psa").json()
    body = detail["text"].split("---\n", 2)[2]

    def save(version: str, words: str) -> httpx.Response:
        return httpx.put(
            f"{app.base_url}/v1/documents/psa/draft",
            headers=app.headers(),
            json={
                "base_revision": detail["revision"],
                "front_matter": {**detail["meta"], "version": version},
                "body": body + f"\n{words}\n",
            },
            timeout=TIMEOUT,
        )

    first = save("1.2", "First editor's sentence.")
    assert first.status_code == 200, first.text
    second = save("1.3", "Second editor's sentence.")
    assert second.status_code == 409, second.text
    conflict = second.json()
    assert "Second editor's sentence." in conflict["yours"]
    assert "First editor's sentence." in conflict["theirs"]
    assert conflict["current_revision"] == first.json()["revision"]
    # Nothing lost: the first save stands, and the second saves once based on it.
    assert get(app, "/v1/documents/psa").json()["draft"]["version"] == "1.2"
    # Approving a version other than the one reviewed is refused too.
    stale = post(app, "/v1/documents/psa/approve", json={"version": "1.1"})
    assert stale.status_code == 409


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "data", "status", "words"),
    [
        ("big.md", b"x" * 300_000, {}, 413, "limit"),
        ("fake.pdf", b"This is a text file.\n", flying_form("fake"), 422, "is not a PDF"),
        (
            "scan.pdf",
            scanned_pdf_bytes(),
            flying_form("scan"),
            422,
            "export it with selectable text",
        ),
        ("notes.docx", b"PK\x03\x04", {}, 422, "upload Markdown"),
        (
            "bad.md",
            ALCOHOL_MD.format(doc_id="bad-title").replace(
                "title: Alcohol after your operation", "title: A"
            ),
            {},
            422,
            "field 'title'",
        ),
        (
            "bad.md",
            ALCOHOL_MD.format(doc_id="bad-due").replace(
                "review_due: 2027-11-01", "review_due: 2020-01-01"
            ),
            {},
            422,
            "review_due",
        ),
        ("dup.md", ALCOHOL_MD.format(doc_id="driving"), {}, 422, "duplicate id"),
        (
            "ph.md",
            ALCOHOL_MD.format(doc_id="placeholder") + "Call {{ clinic.no_such_number }}.\n",
            {},
            422,
            "no_such_number",
        ),
        ("nometa.pdf", pdf_bytes(FLYING_LINES), {}, 422, "field 'id'"),
    ],
)
def test_bad_uploads_are_refused_clearly(
    workspace_app: WorkspaceApp,
    name: str,
    content: bytes | str,
    data: dict[str, str],
    status: int,
    words: str,
) -> None:
    raw = content.encode() if isinstance(content, str) else content
    response = post(workspace_app, "/v1/documents", files={"file": (name, raw)}, data=data)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert all(d["doc_id"] != Path(name).stem for d in get(workspace_app, "/v1/documents").json())


def test_an_encrypted_pdf_is_refused(workspace_app: WorkspaceApp, tmp_path: Path) -> None:
    response = post(
        workspace_app,
        "/v1/documents",
        files={"file": ("locked.pdf", encrypted_pdf_bytes(tmp_path))},
        data=flying_form("locked"),
    )
    assert response.status_code == 422
    assert "password-protected" in response.json()["detail"]


def test_who_may_do_what(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    assert upload_md(app, ALCOHOL_MD.format(doc_id="roles")).status_code == 201
    coordinator = post(
        app, "/v1/documents/roles/approve", app.coordinator_key, json={"version": "1"}
    )
    assert coordinator.status_code == 403
    assert get(app, "/v1/documents", app.coordinator_key).status_code == 200
    for key in (app.patient_key, "not-a-key"):
        assert get(app, "/v1/documents", key).status_code == 401
        assert (
            post(app, "/v1/documents/roles/approve", key, json={"version": "1"}).status_code == 401
        )
        assert get(app, "/v1/reports/gaps", key).status_code == 401
    assert httpx.get(app.base_url + "/v1/documents").status_code == 401
    admin = post(app, "/v1/documents/roles/approve", app.admin_key, json={"version": "1"})
    assert admin.status_code == 200, admin.text


def test_an_unwritable_corpus_changes_nothing(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    if shutil.which("chattr") is None:
        pytest.skip("chattr is needed to make a folder unwritable for root")
    assert upload_md(app, ALCOHOL_MD.format(doc_id="locked-out")).status_code == 201
    before = corpus_files(app)
    subprocess.run(["chattr", "+i", str(app.settings.corpus_dir)], check=True)
    try:
        response = post(app, "/v1/documents/locked-out/approve", json={"version": "1"})
    finally:
        subprocess.run(["chattr", "-i", str(app.settings.corpus_dir)], check=True)
    assert response.status_code == 507, response.text
    assert "cannot write" in response.json()["detail"]
    assert corpus_files(app) == before
    # The draft is still there, and approval works once the folder is writable again.
    assert get(app, "/v1/documents/locked-out").json()["draft"]["version"] == "1"
    assert post(app, "/v1/documents/locked-out/approve", json={"version": "1"}).status_code == 200


def test_overdue_documents_are_flagged(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    overdue = (
        ALCOHOL_MD.format(doc_id="old-guide")
        .replace("status: draft", "status: approved")
        .replace("reviewed_on: 2026-11-01", "reviewed_on: 2024-01-01")
        .replace("review_due: 2027-11-01", "review_due: 2025-01-01")
        .replace("Alcohol after your operation", "An old guide")
    )
    (app.settings.corpus_dir / "old-guide.md").write_text(overdue)
    app.services.ingest()
    due = get(app, "/v1/reports/review-due").json()
    # Other tests on the same server may leave overdue guides of their own.
    mine = [d for d in due if d["doc_id"] == "old-guide"]
    assert len(mine) == 1
    assert mine[0]["overdue"] is True and mine[0]["live"] is True  # the default keeps it live


def test_weekly_review_digest_reaches_the_clinicians_webhook(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    stale = (
        ALCOHOL_MD.format(doc_id="digest-old")
        .replace("status: draft", "status: approved")
        .replace("reviewed_on: 2026-11-01", "reviewed_on: 2024-03-01")
        .replace("review_due: 2027-11-01", "review_due: 2025-03-01")
        .replace("Alcohol after your operation", "Pelvic floor (old)")
    )
    (app.settings.corpus_dir / "digest-old.md").write_text(stale)
    app.services.ingest()
    job = app.services.jobs.get_job("review-digest")
    assert job is not None
    assert "day_of_week='mon'" in str(job.trigger) and "hour='8'" in str(job.trigger)

    assert post(app, "/v1/reports/review-due/send", app.coordinator_key).status_code == 403
    sent = post(app, "/v1/reports/review-due/send")
    assert sent.status_code == 200, sent.text
    assert "digest-old" in sent.json()["overdue"] and sent.json()["channels"] == ["webhook"]
    deadline = time.monotonic() + 20
    while not app.digests.received and time.monotonic() < deadline:
        time.sleep(0.1)
    headers, raw = app.digests.received[-1]
    assert verify_signature(
        DIGEST_SECRET, headers["X-Aftercare-Timestamp"], raw, headers["X-Aftercare-Signature"]
    )
    body = json.loads(raw)
    assert body["event"] == "documents.review_due"
    assert (
        "Pelvic floor (old) (version 1, due 2025-03-01, still answering patients)" in body["text"]
    )
    assert body["link"].endswith("/clinician")

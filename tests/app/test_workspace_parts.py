"""The workspace's parts without a server: drafts on disk, atomic writes, the overdue rule,
retention, the digest and the CSV."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.conversation.turn import TurnResult
from app.conversation.turn_log import TurnFilter, TurnLog
from app.errors import CorpusNotWritableError, DocumentRejectedError
from app.main import build_services
from app.workspace.document_files import render_markdown, split_front_matter, write_atomically
from app.workspace.document_views import DocumentSummary
from app.workspace.drafts import Draft, DraftStore
from app.workspace.gaps import GapGroup, as_csv
from app.workspace.review_digest import build_digest
from ingestion.embedding import Embedder
from tests.app.conftest import make_settings
from tests.app.workspace_docs import ALCOHOL_MD

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_front_matter_round_trip_keeps_the_body() -> None:
    meta, body = split_front_matter(ALCOHOL_MD.format(doc_id="alcohol"))
    assert meta["id"] == "alcohol" and meta["reviewed_on"] == date(2026, 11, 1)
    again = render_markdown({**meta, "version": "2"}, body)
    meta2, body2 = split_front_matter(again)
    assert meta2["version"] == "2" and body2 == body
    assert again.startswith("---\nid: alcohol\ntitle: Alcohol after your operation\n")
    with pytest.raises(DocumentRejectedError, match="no front matter"):
        split_front_matter("# Just a heading\n")
    with pytest.raises(DocumentRejectedError, match="not valid YAML"):
        split_front_matter("---\ntitle: [unclosed\n---\nText\n")


def test_draft_store_saves_replaces_and_deletes(tmp_path: Path) -> None:
    store = DraftStore(tmp_path / "drafts")
    assert store.get("alcohol") is None and store.all() == []
    text = ALCOHOL_MD.format(doc_id="alcohol")
    first = store.save(Draft("alcohol", "md", text.encode(), None, "Nurse A", NOW, None))
    again = store.get("alcohol")
    assert again is not None and again.revision == first.revision and again.version == "1"
    changed = text.replace('version: "1"', 'version: "2"')
    store.save(Draft("alcohol", "md", changed.encode(), None, "Nurse B", NOW, "1"))
    latest = store.get("alcohol")
    assert latest is not None and latest.version == "2" and latest.saved_by == "Nurse B"
    assert latest.revision != first.revision
    assert [p.name for p in (tmp_path / "drafts").iterdir()] == ["alcohol"]  # no leftovers
    store.delete("alcohol")
    assert store.get("alcohol") is None and list((tmp_path / "drafts").iterdir()) == []
    # An id is never a path.
    assert store.get("..") is None and store.get("../drafts") is None
    with pytest.raises(DocumentRejectedError, match="not a valid id"):
        store.save(Draft("../x", "md", text.encode(), None, "Nurse A", NOW, None))


def test_atomic_write_into_an_unwritable_folder_writes_nothing(tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is needed to make a folder unwritable for root")
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text("old")
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        with pytest.raises(CorpusNotWritableError, match="nothing was changed"):
            write_atomically({folder / "a.md": b"new", folder / "b.md": b"new"})
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert sorted(p.name for p in folder.iterdir()) == ["a.md"]
    assert (folder / "a.md").read_text() == "old"


def test_overdue_documents_leave_the_index_when_the_clinic_says_so(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, workspace={"overdue_stay_live": False})
    overdue = (
        ALCOHOL_MD.format(doc_id="old-guide")
        .replace("status: draft", "status: approved")
        .replace("reviewed_on: 2026-11-01", "reviewed_on: 2024-01-01")
        .replace("review_due: 2027-11-01", "review_due: 2025-01-01")
    )
    (settings.corpus_dir / "old-guide.md").write_text(overdue)
    services = build_services(settings, clock=lambda: NOW)
    services.embedder = embedder
    report = services.ingest()
    statuses = {d.doc_id: d.status for d in report.documents}
    assert statuses["driving"] == "added" and "old-guide" not in statuses
    assert services.desk is not None
    listed = {d.doc_id: d for d in services.desk.documents()}
    assert listed["old-guide"].overdue and not listed["old-guide"].live
    assert listed["old-guide"].chunks == 0 and listed["driving"].chunks > 0
    # Reviewed again (a later review date): back in the index.
    (settings.corpus_dir / "old-guide.md").write_text(
        overdue.replace("review_due: 2025-01-01", "review_due: 2027-06-01")
    )
    again = {d.doc_id: d.status for d in services.ingest().documents}
    assert again["old-guide"] == "added"
    services.engine.dispose()


def test_retention_deletes_old_turns_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    services = build_services(settings, clock=lambda: NOW)
    result = TurnResult(question="q", outcome="smalltalk", answer="a", confidence=None)
    for age in (400, 10):
        TurnLog(services.sessions, lambda age=age: NOW - timedelta(days=age)).record(
            result, turn_id=f"t{age}", channel="api", patient_id=None, conversation_id=None
        )
    old = services.turns.query(TurnFilter(until=NOW - timedelta(days=300)))[0]
    services.marks.add(old.id, "wrong", "a note", "staff:x")
    assert services.marks.marked(["wrong"])
    # The retention job (``app.people.governance``) deletes through the turn store.
    assert services.turns.delete_before(NOW - timedelta(days=365)) == 1
    assert [t.turn_id for t in services.turns.query(TurnFilter())] == ["t10"]
    assert services.marks.marked(["wrong"]) == []  # the marks went with the turn
    services.engine.dispose()


def _summary(doc_id: str, due: date, overdue: bool, status: str = "approved") -> DocumentSummary:
    return DocumentSummary(
        doc_id=doc_id,
        title=doc_id.title(),
        path=f"{doc_id}.md",
        kind="md",
        status=status,
        version="1",
        reviewed_by="Nurse A",
        reviewed_on=date(2025, 1, 1),
        review_due=due,
        overdue=overdue,
        live=True,
        chunks=3,
        last_indexed_at=None,
        last_failure=None,
        last_failure_at=None,
        draft_version=None,
        error=None,
    )


def test_digest_lists_overdue_then_soon_due() -> None:
    today = date(2026, 12, 2)
    docs = [
        _summary("later", date(2027, 6, 1), False),
        _summary("soon", date(2026, 12, 20), False),
        _summary("old", date(2025, 1, 1), True),
        _summary("older", date(2024, 1, 1), True),
        _summary("retired", date(2024, 1, 1), False, status="retired"),
    ]
    digest = build_digest(docs, today)
    assert [d.doc_id for d in digest.overdue] == ["older", "old"]
    assert [d.doc_id for d in digest.due_soon] == ["soon"]
    assert digest.id == "review-digest-2026-12-02" and not digest.empty
    text = digest.text("http://clinic/clinician")
    assert "Older (version 1, due 2024-01-01, still answering patients)" in text
    assert build_digest([docs[0]], today).empty


def test_gaps_csv_never_carries_a_formula() -> None:
    group = GapGroup(
        size=2,
        examples=['=HYPERLINK("http://x")', "is it ok?"],
        questions=[],
        nurse_calls=1,
        marked=0,
        closest_doc_id="driving",
        closest_title="Driving, after your operation",
        closest_section="",
        closest_score=0.41,
    )
    rows = list(csv.reader(io.StringIO(as_csv([group, replace(group, closest_doc_id=None)]))))
    assert rows[0][:3] == ["group", "questions", "nurse_calls_booked"]
    assert rows[1][5] == "Driving, after your operation"
    assert rows[1][8].startswith("'=HYPERLINK")
    assert rows[2][4] == ""

"""Conversation review, marks, the evaluation export and the gaps report, over loopback."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from app.workspace.gaps import group_by_meaning
from ingestion.embedding import Embedder
from tests.app.conftest import WorkspaceApp

# The workspace app starts once per session; on a loaded machine that takes minutes.
pytestmark = pytest.mark.timeout(900)

TIMEOUT = 120

ERECTIONS = [
    "Will I be able to get an erection again?",
    "When do erections come back after the surgery?",
    "Can I take viagra to help with my erections?",
]
CONSTIPATION = [
    "What should I eat so I don't get constipated?",
    "Is constipation normal after the operation?",
    "How can I stop being constipated?",
]
ODD_ONE = ["Can my dog sleep on the bed with me?"]


def ask(app: WorkspaceApp, question: str, as_patient: bool = False) -> dict[str, Any]:
    response = httpx.post(
        app.base_url + "/v1/ask",
        json={"question": question, "patient_id": "patient-ws" if as_patient else None},
        headers={"Authorization": f"Bearer {app.patient_key}"} if as_patient else {},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(app: WorkspaceApp, since: datetime, count: int) -> list[dict[str, Any]]:
    """The turns stored since ``since``, once all ``count`` are written (newest first)."""
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(
            app.base_url + "/v1/turns",
            headers=app.headers(),
            params={"since": since.isoformat(), "limit": 500},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        turns: list[dict[str, Any]] = response.json()
        if len(turns) >= count or time.monotonic() > deadline:
            return turns
        time.sleep(0.1)


def test_turns_filter_and_marks(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    since = datetime.now(UTC)
    answered = ask(app, "how long will the catheter stay in?")
    assert answered["outcome"] == "answered"
    escalated = ask(app, "Can I go scuba diving next month?")
    assert escalated["outcome"] == "escalated"
    turns = stored(app, since, 2)
    assert [t["question"] for t in turns[:2]] == [
        "Can I go scuba diving next month?",
        "how long will the catheter stay in?",
    ]
    headers = app.headers()
    only = httpx.get(
        app.base_url + "/v1/turns",
        headers=headers,
        params={"since": since.isoformat(), "outcome": "answered", "doc_id": "catheter"},
    ).json()
    assert [t["question"] for t in only] == ["how long will the catheter stay in?"]
    assert only[0]["sources"][0]["doc_id"] == "catheter" and only[0]["sources"][0]["version"]
    assert only[0]["answer"] == answered["answer"] and only[0]["timings_ms"]["total"] > 0
    band = httpx.get(
        app.base_url + "/v1/turns",
        headers=headers,
        params={"since": since.isoformat(), "min_confidence": 0.0, "max_confidence": 0.5},
    ).json()
    assert [t["question"] for t in band] == ["Can I go scuba diving next month?"]

    target = only[0]["id"]
    marked = httpx.post(
        f"{app.base_url}/v1/turns/{target}/marks",
        headers=headers,
        json={"kind": "wrong", "note": "Our catheters stay in for 14 days."},
    )
    assert marked.status_code == 201, marked.text
    assert marked.json()["marks"][0]["note"] == "Our catheters stay in for 14 days."
    # Coordinators read, but do not mark; bad marks are refused.
    assert (
        httpx.post(
            f"{app.base_url}/v1/turns/{target}/marks",
            headers=app.headers(app.coordinator_key),
            json={"kind": "wrong"},
        ).status_code
        == 403
    )
    assert (
        httpx.post(
            f"{app.base_url}/v1/turns/{target}/marks", headers=headers, json={"kind": "meh"}
        ).status_code
        == 422
    )
    assert (
        httpx.post(
            f"{app.base_url}/v1/turns/no-such-turn/marks", headers=headers, json={"kind": "wrong"}
        ).status_code
        == 404
    )
    exported = httpx.get(app.base_url + "/v1/turns/marks/export", headers=headers)
    lines = [json.loads(line) for line in exported.text.splitlines()]
    mine = [line for line in lines if line["question"] == "how long will the catheter stay in?"]
    assert mine and mine[0]["expected"] == "escalated" and "wrong" in mine[0]["tags"]


def test_group_by_meaning_on_the_real_model(embedder: Embedder) -> None:
    questions = ERECTIONS + CONSTIPATION + ODD_ONE
    vectors = np.asarray(embedder.embed(questions))
    groups = group_by_meaning(vectors, 0.6)
    assert [sorted(questions[i] for i in g) for g in groups] == [
        sorted(ERECTIONS),
        sorted(CONSTIPATION),
        ODD_ONE,
    ]
    assert group_by_meaning(vectors[:1], 0.6) == [[0]]
    assert group_by_meaning(vectors[:0], 0.6) == []


def test_gaps_report_groups_escalated_questions(workspace_app: WorkspaceApp) -> None:
    app = workspace_app
    since = datetime.now(UTC)
    for question in ERECTIONS + CONSTIPATION:
        assert ask(app, question)["outcome"] == "escalated", question
    assert ask(app, ODD_ONE[0], as_patient=True)["outcome"] == "escalated"
    answered = ask(app, "Is it safe to drive while I still have the catheter?")
    assert answered["outcome"] == "answered"
    turns = stored(app, since, 8)
    marked = next(t for t in turns if t["question"].startswith("Is it safe to drive"))
    httpx.post(
        f"{app.base_url}/v1/turns/{marked['id']}/marks",
        headers=app.headers(),
        json={"kind": "wrong", "note": "He must wait until the catheter is out."},
    ).raise_for_status()

    report = httpx.get(
        app.base_url + "/v1/reports/gaps",
        headers=app.headers(app.coordinator_key),
        params={"since": since.isoformat()},
        timeout=TIMEOUT,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["questions"] == 8
    groups = [sorted(q["question"] for q in g["questions"]) for g in body["groups"]]
    assert groups[:2] == [sorted(ERECTIONS), sorted(CONSTIPATION)] or groups[:2] == [
        sorted(CONSTIPATION),
        sorted(ERECTIONS),
    ]
    assert sorted(map(len, groups), reverse=True) == [len(g) for g in groups]
    assert sorted(groups[2:]) == sorted([ODD_ONE, [marked["question"]]])
    first = body["groups"][0]
    assert first["size"] == 3 and first["nurse_calls"] == 3
    assert first["closest_doc_id"] and first["examples"][0] in ERECTIONS + CONSTIPATION
    wrong = next(g for g in body["groups"] if g["questions"][0]["question"] == marked["question"])
    assert wrong["marked"] == 1 and wrong["nurse_calls"] == 0
    assert wrong["closest_doc_id"] in ("driving", "catheter")
    # A registered patient's question in the report: the read is audited, with the reader.
    reads = [r for r in app.services.people.audit_trail("patient-ws") if r.action == "gaps.read"]
    assert reads and reads[0].actor.startswith("staff:")

    exported = httpx.get(
        app.base_url + "/v1/reports/gaps",
        headers=app.headers(),
        params={"since": since.isoformat(), "format": "csv"},
        timeout=TIMEOUT,
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(body["groups"])
    assert rows[0]["questions"] == "3" and rows[0]["nurse_calls_booked"] == "3"
    assert rows[0]["examples"].count(" | ") == 2

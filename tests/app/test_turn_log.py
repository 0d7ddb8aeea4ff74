"""Every turn is stored as the patient heard it, on every channel, without slowing the turn."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.sync.client import connect

from app.conversation.turn_log import StoredTurn, TurnFilter, TurnLog
from tests.app.conftest import LiveApp


def _wait_for(log: TurnLog, where: TurnFilter, count: int) -> list[StoredTurn]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        turns = log.query(where, limit=10_000)
        if len(turns) >= count:
            return turns
        time.sleep(0.05)
    raise AssertionError(f"expected {count} stored turns for {where}")


def test_an_answered_question_is_stored_with_its_sources(live_app: LiveApp) -> None:
    question = "How long will the catheter stay in after the operation?"
    body = httpx.post(live_app.base_url + "/v1/ask", json={"question": question}).json()
    log = live_app.services.turns
    # Turns are stored off the event loop: wait for this one, not for any answered turn.
    deadline = time.monotonic() + 10
    mine: list[StoredTurn] = []
    while not mine and time.monotonic() < deadline:
        found = log.query(TurnFilter(outcome=body["outcome"]), limit=10_000)
        mine = [t for t in found if t.question == question]
        time.sleep(0.05)
    [turn] = mine
    assert turn.answer == body["answer"]
    assert turn.channel == "api"
    assert turn.timings_ms["total"] == pytest.approx(body["timings_ms"]["total"], abs=0.05)
    stored = [(s.doc_id, s.version) for s in turn.sources]
    assert stored == [(s["doc_id"], s["version"]) for s in body["sources"]]


def test_voice_turns_share_one_conversation_id(live_app: LiveApp) -> None:
    questions = ["Can I have a bath with the catheter in?", "Hello there"]
    with connect(live_app.ws_url) as socket:
        json.loads(socket.recv())  # session.ready
        for text in questions:
            socket.send(json.dumps({"type": "user_transcript", "text": text, "final": True}))
            while json.loads(socket.recv())["type"] != "turn.completed":
                pass
    log = live_app.services.turns
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        voice = [t for t in log.query(TurnFilter(), limit=500) if t.channel == "voice"]
        if len({t.question for t in voice} & set(questions)) == 2:
            break
        time.sleep(0.05)
    mine = [t for t in voice if t.question in questions]
    assert len({t.conversation_id for t in mine}) == 1
    assert mine[0].conversation_id
    recent = log.recent(conversation_id=mine[0].conversation_id)
    assert [t.question for t in recent][-2:] == questions


def test_filters_and_retention(live_app: LiveApp) -> None:
    log = live_app.services.turns
    stored = len(log.query(TurnFilter(), limit=10_000))
    httpx.post(live_app.base_url + "/v1/ask", json={"question": "Hello"})
    _wait_for(log, TurnFilter(), stored + 1)  # this turn is stored: nothing else is pending
    assert all(t.outcome == "smalltalk" for t in log.query(TurnFilter(outcome="smalltalk")))
    assert log.query(TurnFilter(doc_id="no-such-document")) == []
    future = datetime.now(UTC) + timedelta(days=1)
    assert log.query(TurnFilter(since=future)) == []
    high = log.query(TurnFilter(min_confidence=0.999, max_confidence=1.0))
    assert all(t.confidence is not None and t.confidence >= 0.999 for t in high)
    before = len(log.query(TurnFilter(), limit=10_000))
    assert log.delete_before(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert len(log.query(TurnFilter(), limit=10_000)) == before

"""WS /v1/voice against the real app over loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.app.conftest import LiveApp


async def receive_until(ws: Any, kinds: set[str], limit_s: float = 60) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(limit_s):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] in kinds:
                return events


async def say(ws: Any, text: str) -> None:
    await ws.send(json.dumps({"type": "user_transcript", "text": text, "final": True}))


async def test_a_turn_streams_sentences_in_order(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        ready = json.loads(await ws.recv())
        assert ready == {"type": "session.ready", "avatar": None}
        await say(ws, "how long will the catheter stay in?")
        events = await receive_until(ws, {"turn.completed"})
    kinds = [e["type"] for e in events]
    assert kinds[0] == "turn.started"
    sentences = [e for e in events if e["type"] == "speech.sentence"]
    assert [s["index"] for s in sentences] == list(range(len(sentences)))
    assert any("7 to 10" in s["text"] for s in sentences)
    assert kinds.index("turn.sources") > kinds.index("speech.sentence")
    completed = events[-1]
    assert completed["outcome"] == "answered" and "first_sentence" in completed["timings_ms"]
    turn_ids = {e["turn_id"] for e in events}
    assert len(turn_ids) == 1


async def test_red_flag_and_escalation_events(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        await say(ws, "my catheter bag hasn't filled since lunch and my belly hurts")
        events = await receive_until(ws, {"turn.completed"})
    kinds = [e["type"] for e in events]
    assert "turn.red_flag" in kinds and "turn.escalation" in kinds
    flag = next(e for e in events if e["type"] == "turn.red_flag")
    assert flag["priority"] == "urgent"
    assert events[-1]["outcome"] == "red_flag"


async def test_interrupt_cancels_the_turn_but_not_its_escalation(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        await say(ws, "what dose of metformin should I take?")
        first = await receive_until(ws, {"speech.sentence"})
        turn_id = first[0]["turn_id"]
        await ws.send(json.dumps({"type": "interrupt"}))
        events = await receive_until(ws, {"turn.escalation"}, limit_s=60)
    kinds = [e["type"] for e in events]
    assert "turn.cancelled" in kinds
    assert "turn.completed" not in kinds
    escalation = next(e for e in events if e["type"] == "turn.escalation")
    assert escalation["turn_id"] == turn_id
    assert escalation["escalation"]["reason"] == "low_confidence"


async def test_new_transcript_cancels_the_turn_in_flight(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        await say(ws, "what should I do about driving?")
        started = await receive_until(ws, {"turn.started"})
        await say(ws, "hello")
        events = await receive_until(ws, {"turn.completed"})
    first_turn = started[-1]["turn_id"]
    cancelled = [e for e in events if e["type"] == "turn.cancelled"]
    completed = events[-1]
    if cancelled:
        assert cancelled[0]["turn_id"] == first_turn
        assert completed["turn_id"] != first_turn
        after = events[events.index(cancelled[0]) :]
        assert not any(
            e.get("turn_id") == first_turn and e["type"] == "speech.sentence" for e in after
        )


async def test_bad_messages_get_errors_and_the_socket_stays_open(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        for raw, code in (
            ("not json", "bad_json"),
            (json.dumps([1, 2]), "bad_message"),
            (json.dumps({"type": "dance"}), "unknown_type"),
            (json.dumps({"type": "user_transcript", "text": 5}), "bad_message"),
            (
                json.dumps({"type": "user_transcript", "text": "  ", "final": True}),
                "empty_transcript",
            ),
        ):
            await ws.send(raw)
            event = json.loads(await ws.recv())
            assert event["type"] == "error" and event["code"] == code
        await ws.send(json.dumps({"type": "interrupt"}))  # nothing in flight: ignored
        await say(ws, "thank you")
        events = await receive_until(ws, {"turn.completed"})
        assert events[-1]["outcome"] == "smalltalk"


def turns_in_flight(live: LiveApp) -> float:
    text = httpx.get(
        f"{live.base_url}/metrics",
        headers={"Authorization": f"Bearer {live.coordinator_key}"},
        timeout=10,
    ).text
    line = next(ln for ln in text.splitlines() if ln.startswith("aftercare_voice_turns_in_flight"))
    return float(line.split()[-1])


async def test_disconnect_mid_turn_leaves_no_task(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        await say(ws, "when can I drive again?")
        await receive_until(ws, {"turn.started"})
    for _ in range(50):
        if turns_in_flight(live_app) == 0:
            break
        await asyncio.sleep(0.1)
    assert turns_in_flight(live_app) == 0
    async with websockets.connect(live_app.ws_url) as ws:
        await ws.recv()
        await say(ws, "hello")
        events = await receive_until(ws, {"turn.completed"})
        assert events[-1]["outcome"] == "smalltalk"


async def test_unknown_patient_is_refused(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url + "?patient_id=nobody") as ws:
        await ws.send(json.dumps({"type": "session.start", "patient_id": "nobody", "key": "x"}))
        event = json.loads(await ws.recv())
        assert event["type"] == "error" and event["code"] == "not_authenticated"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_key_in_the_address_is_refused(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url + "?patient_id=p&key=secret") as ws:
        event = json.loads(await ws.recv())
        assert event["code"] == "key_in_address"


async def test_a_patient_starts_his_session_with_his_key(live_app: LiveApp) -> None:
    _, key = live_app.services.people.add_patient("p-voice-1", "Voice Patient")
    async with websockets.connect(live_app.ws_url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.ready"
        await ws.send(json.dumps({"type": "session.start", "patient_id": "p-voice-1", "key": key}))
        ready = json.loads(await ws.recv())
        assert ready == {"type": "session.ready", "avatar": None, "patient_id": "p-voice-1"}
        await say(ws, "hello")
        events = await receive_until(ws, {"turn.completed"})
        assert events[-1]["outcome"] == "smalltalk"
    trail = live_app.services.people.audit_trail("p-voice-1")
    assert {"voice.connect", "voice.turn"} <= {row.action for row in trail}


async def test_a_named_patient_must_start_with_his_key(live_app: LiveApp) -> None:
    async with websockets.connect(live_app.ws_url + "?patient_id=p-voice-1") as ws:
        await say(ws, "hello")
        event = json.loads(await ws.recv())
        assert event["code"] == "not_authenticated"

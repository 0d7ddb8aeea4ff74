"""Retell's custom-LLM WebSocket, driven with its documented events over loopback."""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import phonenumbers
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from app.operations.logs import RedactingFilter, redact
from tests.app.conftest import PLATFORM_KEY
from tests.platforms.conftest import PlatformApp, vendor

CALF = "I have a pain in my calf and it's swollen"


def url(app: PlatformApp, call_id: str, key: str | None = PLATFORM_KEY) -> str:
    base = app.base_url.replace("http://", "ws://") + f"/v1/retell/{call_id}"
    return base if key is None else f"{base}?key={key}"


def receive(ws: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def answer(ws: ClientConnection, response_id: int) -> tuple[str, dict[str, Any]]:
    """The streamed content of one response, and its final (complete) event."""
    text = ""
    while True:
        event = receive(ws)
        if event.get("response_type") != "response" or event["response_id"] != response_id:
            continue
        text += event["content"]
        if event["content_complete"]:
            return text.strip(), event


def required(response_id: int, *turns: tuple[str, str]) -> str:
    return json.dumps(
        {
            "interaction_type": "response_required",
            "response_id": response_id,
            "transcript": [{"role": r, "content": c} for r, c in turns],
        }
    )


def start(app: PlatformApp, call_id: str, from_number: str = "+447911123456") -> ClientConnection:
    ws = connect(url(app, call_id))
    config = receive(ws)
    assert config == {
        "response_type": "config",
        "config": {"auto_reconnect": True, "call_details": True},
    }
    details = copy.deepcopy(vendor("retell")["events"]["call_details"])
    details["call"]["call_id"] = call_id
    details["call"]["from_number"] = from_number
    ws.send(json.dumps(details))
    return ws


def test_retell_call_identified_escalated_and_transferred(platform_app: PlatformApp) -> None:
    events = vendor("retell")["events"]
    before = platform_app.ids()
    with start(platform_app, "retell-call-1") as ws:
        greeting, _ = answer(ws, 0)
        assert "date of birth" in greeting
        ws.send(json.dumps(events["ping_pong"]))
        assert receive(ws) == {"response_type": "ping_pong", "timestamp": 1703302407333}
        ws.send("{not json")
        ws.send(json.dumps(["a", "list"]))
        ws.send(json.dumps(events["update_only"]))
        ws.send(required(1, ("agent", greeting), ("user", "the 4th of March 1952")))
        text, _ = answer(ws, 1)
        assert "Harold" in text
        ws.send(
            required(2, ("agent", greeting), ("user", "4/3/52"), ("agent", text), ("user", CALF))
        )
        said, final = answer(ws, 2)
        assert "calf" in said.lower() or said
        number = final["transfer_number"]
        assert phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        assert number == "+441223000000" and final["end_call"] is False
        # Retell reconnects and asks again for the same response: the same answer, no rebooking.
        ws.send(
            required(2, ("agent", greeting), ("user", "4/3/52"), ("agent", text), ("user", CALF))
        )
        again, final_again = answer(ws, 2)
        assert again == said and final_again["transfer_number"] == number
        ws.send(json.dumps(events["reminder_required"] | {"response_id": 3}))
        reminder, _ = answer(ws, 3)
        assert "still here" in reminder
        ws.send(required(4, ("agent", reminder), ("user", "that's all, goodbye")))
        bye, final = answer(ws, 4)
        assert "goodbye" in bye.lower() and final["end_call"] is True
    new = platform_app.new_since(before)
    assert len(new) == 1 and new[0]["patient_id"] == platform_app.patient_id


def test_retell_barge_in_abandons_the_older_response(platform_app: PlatformApp) -> None:
    with start(platform_app, "retell-call-2", from_number="+14155550100") as ws:
        greeting, _ = answer(ws, 0)
        assert "date of birth" not in greeting
        ws.send(required(1, ("user", "can I have a bath with the catheter in?")))
        ws.send(required(2, ("user", "how long will the catheter stay in?")))
        seen: list[dict[str, Any]] = []
        while True:
            event = receive(ws)
            seen.append(event)
            if event.get("response_id") == 2 and event.get("content_complete"):
                break
        first_of_2 = next(i for i, e in enumerate(seen) if e.get("response_id") == 2)
        assert all(e.get("response_id") != 1 for e in seen[first_of_2:])
        assert not any(e.get("response_id") == 1 and e.get("content_complete") for e in seen)
        assert "7 to 10" in "".join(e["content"] for e in seen if e.get("response_id") == 2)


def test_retell_closed_mid_response_still_books_once(platform_app: PlatformApp) -> None:
    before = platform_app.ids()
    with start(platform_app, "retell-call-3", from_number="+14155550100") as ws:
        answer(ws, 0)
        ws.send(required(1, ("user", CALF)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not platform_app.new_since(before):
        time.sleep(0.2)
    new = platform_app.new_since(before)
    assert len(new) == 1 and new[0]["red_flag_rule"] == "calf_clot_signs"


def test_retell_refuses_a_missing_or_wrong_key(platform_app: PlatformApp) -> None:
    for key in (None, "wrong"):
        with pytest.raises(InvalidStatus) as err:
            connect(url(platform_app, "retell-call-4", key=key))
        assert err.value.response.status_code == 403


def test_retell_address_allowlist(platform_app: PlatformApp) -> None:
    settings = platform_app.live.services.settings
    settings.retell_allowed_addresses = ["10.20.30.40"]
    try:
        with pytest.raises(InvalidStatus) as err:
            connect(url(platform_app, "retell-call-5"))
        assert err.value.response.status_code == 403
    finally:
        settings.retell_allowed_addresses = []
    settings.retell_allowed_addresses = ["127.0.0.1"]
    try:
        with connect(url(platform_app, "retell-call-6")) as ws:
            assert receive(ws)["response_type"] == "config"
    finally:
        settings.retell_allowed_addresses = []


def test_query_keys_are_redacted_from_server_logs(platform_app: PlatformApp) -> None:
    assert redact('"WebSocket /v1/retell/abc?key=secret-1" [accepted]') == (
        '"WebSocket /v1/retell/abc?key=[redacted]" [accepted]'
    )
    assert redact("/v1/voice?patient_id=p1&key=acp_x&avatar_session=s") == (
        "/v1/voice?patient_id=[redacted]&key=[redacted]&avatar_session=s"
    )
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, "x", 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/v1/retell/abc?key=secret-1"), None,
    )  # fmt: skip
    RedactingFilter().filter(record)
    assert "secret-1" not in record.getMessage()

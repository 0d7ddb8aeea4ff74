"""A HeyGen avatar that stops answering: the patient keeps hearing answers in the browser."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import websockets
from pydantic import SecretStr

from app.main import build_services
from avatar_bridge.settings import AvatarSettings
from ingestion.embedding import Embedder
from tests.app.conftest import make_settings, serve
from tests.app.test_voice import receive_until, say
from tests.avatar_bridge.providers.fake_vendors import HEYGEN_KEY, VendorState, heygen_app
from tests.support.loopback import LoopbackServer


@pytest.fixture(scope="module")
def vendor_and_app(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[VendorState, str]]:
    state = VendorState()
    vendor = LoopbackServer(heygen_app(state), "fake vendor").start()
    vendor_url = vendor.url
    settings = make_settings(
        tmp_path_factory.mktemp("avatar"),
        avatar=AvatarSettings(
            provider="heygen",
            heygen_api_key=SecretStr(HEYGEN_KEY),
            heygen_base_url=vendor_url,
            heygen_avatar_id="avatar-1",
            request_timeout_s=2.0,
        ),
        security={"public_metrics": True},
    )
    services = build_services(settings)
    services.embedder = embedder
    server = serve(settings, services)
    base = server.url
    yield state, base
    server.stop(timeout=30)
    state.release.set()
    vendor.stop()


async def test_vendor_failure_degrades_to_the_browser_voice(
    vendor_and_app: tuple[VendorState, str],
) -> None:
    state, base = vendor_and_app
    async with httpx.AsyncClient(timeout=30) as client:
        started = (await client.post(f"{base}/v1/avatar/session", json={})).json()
    assert started["voice"] == "avatar"
    avatar = started["avatar"]
    assert avatar["provider"] == "heygen" and avatar["speaks_itself"] is True
    assert "raw" not in avatar

    ws_url = base.replace("http://", "ws://") + f"/v1/voice?avatar_session={avatar['session_id']}"
    async with websockets.connect(ws_url) as ws:
        ready = json.loads(await ws.recv())
        assert ready["avatar"]["session_id"] == avatar["session_id"]
        await say(ws, "how long will the catheter stay in?")
        events = await receive_until(ws, {"turn.completed"})
        assert not any(e["type"] == "avatar.degraded" for e in events)
        spoken = [c.body for c in state.calls_to("/v1/streaming.task")]
        assert spoken and all(body["task_type"] == "repeat" for body in spoken)

        state.fail["/v1/streaming.task"] = 500
        await say(ws, "when can I drive again?")
        events = await receive_until(ws, {"turn.completed"})
    kinds = [e["type"] for e in events]
    assert "avatar.degraded" in kinds
    degraded = next(e for e in events if e["type"] == "avatar.degraded")
    assert degraded["speak_in_browser"] is True
    assert kinds.count("speech.sentence") >= 2  # the answer still arrives, for the browser


def test_vendor_down_at_start_means_browser_voice(vendor_and_app: tuple[VendorState, str]) -> None:
    state, base = vendor_and_app
    state.fail["/v1/streaming.create_token"] = 503
    body = httpx.post(f"{base}/v1/avatar/session", json={}, timeout=30).json()
    assert body["avatar"] is None and body["voice"] == "browser"
    del state.fail["/v1/streaming.create_token"]


def test_metrics_count_the_vendor_failures(vendor_and_app: tuple[VendorState, str]) -> None:
    _, base = vendor_and_app
    text = httpx.get(f"{base}/metrics", timeout=10).text
    assert 'aftercare_avatar_failures_total{operation="speak",provider="heygen"}' in text


def test_closing_a_session(vendor_and_app: tuple[VendorState, str]) -> None:
    state, base = vendor_and_app
    avatar = httpx.post(f"{base}/v1/avatar/session", json={}, timeout=30).json()["avatar"]
    closed = httpx.delete(f"{base}/v1/avatar/session/{avatar['session_id']}", timeout=30)
    assert closed.status_code == 204
    assert any(c.path == "/v1/streaming.stop" for c in state.calls)
    named = httpx.delete(
        f"{base}/v1/avatar/session/x", params={"patient_id": "someone"}, timeout=30
    )
    assert named.status_code == 401

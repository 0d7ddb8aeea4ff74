from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from avatar_bridge.errors import AvatarConfigError, AvatarSessionError, AvatarUnavailableError
from avatar_bridge.providers.heygen import HeyGenProvider
from avatar_bridge.settings import AvatarSettings
from tests.avatar_bridge.providers.fake_vendors import HEYGEN_KEY, VendorState


def settings(base_url: str, **overrides: object) -> AvatarSettings:
    values: dict[str, object] = {
        "provider": "heygen",
        "heygen_api_key": SecretStr(HEYGEN_KEY),
        "heygen_base_url": base_url,
        "heygen_avatar_id": "Anna_public",
        "heygen_voice_id": "voice-1",
        "request_timeout_s": 2.0,
    }
    values.update(overrides)
    return AvatarSettings.model_validate(values)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_session_lifecycle_speaks_with_repeat_tasks(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    provider = HeyGenProvider(settings(base_url), client)

    session = await provider.start_session("patient-7")
    assert session.provider == "heygen"
    assert session.speaks_itself is True
    assert session.patient_ref == "patient-7"
    assert session.client["livekit_url"] == "wss://heygen.livekit.example"
    assert session.client["access_token"] == f"lk-{session.session_id}"
    assert session.keepalive_s == 60.0
    assert state.sessions[session.session_id] == "started"

    await provider.speak(session, "Most men can drive again after two weeks.")
    await provider.interrupt(session)
    await provider.keep_alive(session)
    await provider.close(session)

    assert state.paths() == [
        "/v1/streaming.create_token",
        "/v1/streaming.new",
        "/v1/streaming.start",
        "/v1/streaming.task",
        "/v1/streaming.interrupt",
        "/v1/streaming.keep_alive",
        "/v1/streaming.stop",
    ]
    assert all(call.method == "POST" for call in state.calls)
    token_call, new_call, start_call, task_call = state.calls[:4]
    assert token_call.headers["x-api-key"] == HEYGEN_KEY
    token = next(iter(state.tokens))
    assert new_call.headers["authorization"] == f"Bearer {token}"
    assert start_call.headers["authorization"] == f"Bearer {token}"
    assert new_call.body["version"] == "v2"
    assert new_call.body["avatar_id"] == "Anna_public"
    assert new_call.body["voice"] == {"voice_id": "voice-1"}
    assert new_call.body["language"] == "en"
    assert task_call.body == {
        "session_id": session.session_id,
        "text": "Most men can drive again after two weeks.",
        "task_type": "repeat",
    }
    assert state.sessions[session.session_id] == "closed"


async def test_blank_sentence_is_not_sent(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    provider = HeyGenProvider(settings(base_url), client)
    session = await provider.start_session(None)
    await provider.speak(session, "   ")
    assert "/v1/streaming.task" not in state.paths()


async def test_keepalive_interval_stays_inside_the_idle_timeout(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    _, base_url = heygen
    provider = HeyGenProvider(
        settings(base_url, keepalive_s=300.0, heygen_idle_timeout_s=120), client
    )
    session = await provider.start_session(None)
    assert session.keepalive_s == 60.0


async def test_vendor_error_is_unavailable_and_names_the_step(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    state.fail["/v1/streaming.new"] = 500
    provider = HeyGenProvider(settings(base_url), client)
    with pytest.raises(AvatarUnavailableError) as caught:
        await provider.start_session(None)
    message = str(caught.value)
    assert "HeyGen" in message and "create a session" in message and "500" in message
    assert HEYGEN_KEY not in message


async def test_failed_start_stops_the_created_session(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    state.fail["/v1/streaming.start"] = 503
    provider = HeyGenProvider(settings(base_url), client)
    with pytest.raises(AvatarUnavailableError):
        await provider.start_session(None)
    assert state.paths()[-1] == "/v1/streaming.stop"
    assert list(state.sessions.values()) == ["closed"]


async def test_hanging_vendor_times_out_within_the_limit(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    provider = HeyGenProvider(settings(base_url, request_timeout_s=0.3), client)
    session = await provider.start_session(None)
    state.hang.add("/v1/streaming.task")
    started = time.monotonic()
    with pytest.raises(AvatarUnavailableError, match=r"did not answer within 0\.3 s"):
        await provider.speak(session, "Hello.")
    assert time.monotonic() - started < 1.0


async def test_bad_key_is_refused_without_leaking_it(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    _, base_url = heygen
    provider = HeyGenProvider(settings(base_url, heygen_api_key=SecretStr("wrong-key-x")), client)
    with pytest.raises(AvatarUnavailableError, match="refused our API key") as caught:
        await provider.start_session(None)
    assert "wrong-key-x" not in str(caught.value)


async def test_closed_session_is_a_session_error(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = heygen
    provider = HeyGenProvider(settings(base_url), client)
    session = await provider.start_session(None)
    state.sessions[session.session_id] = "closed"
    with pytest.raises(AvatarSessionError):
        await provider.keep_alive(session)
    with pytest.raises(AvatarSessionError):
        await provider.speak(session, "Hello.")


async def test_unreachable_vendor_is_unavailable(client: httpx.AsyncClient) -> None:
    provider = HeyGenProvider(settings("http://127.0.0.1:9"), client)
    with pytest.raises(AvatarUnavailableError, match="could not be reached"):
        await provider.start_session(None)


async def test_missing_settings_are_config_errors(client: httpx.AsyncClient) -> None:
    with pytest.raises(AvatarConfigError, match="HEYGEN_API_KEY"):
        HeyGenProvider(AvatarSettings(provider="heygen", heygen_avatar_id="a"), client)
    with pytest.raises(AvatarConfigError, match="HEYGEN_AVATAR_ID"):
        HeyGenProvider(AvatarSettings(provider="heygen", heygen_api_key=SecretStr("k")), client)

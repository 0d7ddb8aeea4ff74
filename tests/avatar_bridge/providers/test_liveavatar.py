from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from avatar_bridge.errors import AvatarConfigError, AvatarSessionError, AvatarUnavailableError
from avatar_bridge.providers.liveavatar import (
    LiveAvatarProvider,
    interrupt_command,
    speak_command,
)
from avatar_bridge.settings import AvatarSettings
from tests.avatar_bridge.providers.fake_vendors import LIVEAVATAR_KEY, VendorState


def settings(base_url: str, **overrides: object) -> AvatarSettings:
    values: dict[str, object] = {
        "provider": "liveavatar",
        "liveavatar_api_key": SecretStr(LIVEAVATAR_KEY),
        "liveavatar_base_url": base_url,
        "liveavatar_avatar_id": "avatar-uuid-1",
        "liveavatar_voice_id": "voice-uuid-1",
        "request_timeout_s": 2.0,
    }
    values.update(overrides)
    return AvatarSettings.model_validate(values)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_session_lifecycle(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    provider = LiveAvatarProvider(settings(base_url), client)

    session = await provider.start_session("patient-3")
    assert session.provider == "liveavatar"
    assert session.speaks_itself is False
    assert session.client["livekit_url"] == "wss://liveavatar.livekit.example"
    assert session.client["access_token"] == f"lk-client-{session.session_id}"
    assert session.client["data_topic"] == "agent-control"
    assert session.client["answers_via"] == "page_relay"
    assert session.client["commands"]["interrupt"] == {
        "event_type": "avatar.interrupt",
        "session_id": session.session_id,
    }
    assert "la-token-" not in str(session.client)  # the session token stays server side

    await provider.keep_alive(session)
    await provider.close(session)

    assert [(c.method, c.path) for c in state.calls] == [
        ("POST", "/v1/sessions/token"),
        ("POST", "/v1/sessions/start"),
        ("POST", "/v1/sessions/keep-alive"),
        ("POST", "/v1/sessions/stop"),
    ]
    token_call, start_call, keep_call, stop_call = state.calls
    assert token_call.headers["x-api-key"] == LIVEAVATAR_KEY
    assert token_call.body == {
        "mode": "FULL",
        "avatar_id": "avatar-uuid-1",
        "avatar_persona": {"language": "en", "voice_id": "voice-uuid-1"},
    }
    session_token = next(iter(state.tokens))
    assert start_call.headers["authorization"] == f"Bearer {session_token}"
    assert "x-api-key" not in start_call.headers
    assert keep_call.body == {"session_id": session.session_id}
    assert stop_call.body == {"session_id": session.session_id, "reason": "USER_CLOSED"}
    assert state.sessions[session.session_id] == "closed"


async def test_speech_and_interrupts_go_through_the_page(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    provider = LiveAvatarProvider(settings(base_url), client)
    session = await provider.start_session(None)
    before = len(state.calls)
    await provider.speak(session, "Hello.")
    await provider.interrupt(session)
    assert len(state.calls) == before
    assert speak_command(session.session_id, "Hello.") == {
        "event_type": "avatar.speak_text",
        "session_id": session.session_id,
        "text": "Hello.",
    }
    assert interrupt_command(session.session_id) == session.client["commands"]["interrupt"]


async def test_register_custom_llm_then_sessions_use_it(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    provider = LiveAvatarProvider(settings(base_url, vendor_llm_model="aftercare"), client)
    config_id = await provider.register_custom_llm(
        "https://aftercare.example", SecretStr("platform-key-9")
    )

    secret_call, config_call = state.calls
    assert (secret_call.method, secret_call.path) == ("POST", "/v1/secrets")
    assert secret_call.headers["x-api-key"] == LIVEAVATAR_KEY
    assert secret_call.body["secret_type"] == "OPENAI_API_KEY"
    assert secret_call.body["secret_value"] == "platform-key-9"
    assert (config_call.method, config_call.path) == ("POST", "/v1/llm-configurations")
    assert config_call.body == {
        "display_name": "Aftercare",
        "model_name": "aftercare",
        "secret_id": state.objects[config_id]["secret_id"],
        "base_url": "https://aftercare.example",
    }

    full = LiveAvatarProvider(settings(base_url, liveavatar_llm_configuration_id=config_id), client)
    session = await full.start_session(None)
    assert state.calls_to("/v1/sessions/token")[-1].body["llm_configuration_id"] == config_id
    assert session.client["answers_via"] == "custom_llm"


async def test_custom_mode_sends_no_llm_configuration(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    provider = LiveAvatarProvider(
        settings(base_url, liveavatar_mode="CUSTOM", liveavatar_llm_configuration_id="x"), client
    )
    session = await provider.start_session(None)
    body = state.calls_to("/v1/sessions/token")[0].body
    assert body["mode"] == "CUSTOM" and "llm_configuration_id" not in body
    assert session.client["answers_via"] == "page_relay"


async def test_vendor_error_on_start_stops_the_session(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    state.fail["/v1/sessions/start"] = 500
    provider = LiveAvatarProvider(settings(base_url), client)
    with pytest.raises(AvatarUnavailableError, match="LiveAvatar failed to start the session"):
        await provider.start_session(None)
    assert state.paths()[-1] == "/v1/sessions/stop"
    assert list(state.sessions.values()) == ["closed"]


async def test_hanging_vendor_times_out(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    state.hang.add("/v1/sessions/token")
    provider = LiveAvatarProvider(settings(base_url, request_timeout_s=0.3), client)
    started = time.monotonic()
    with pytest.raises(AvatarUnavailableError, match="did not answer"):
        await provider.start_session(None)
    assert time.monotonic() - started < 1.0


async def test_bad_key_is_refused(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    _, base_url = liveavatar
    provider = LiveAvatarProvider(
        settings(base_url, liveavatar_api_key=SecretStr("heygen-key-not-valid-here")), client
    )
    with pytest.raises(AvatarUnavailableError, match="refused our API key") as caught:
        await provider.start_session(None)
    assert "heygen-key-not-valid-here" not in str(caught.value)


async def test_unknown_session_is_a_session_error(
    liveavatar: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = liveavatar
    provider = LiveAvatarProvider(settings(base_url), client)
    session = await provider.start_session(None)
    state.sessions[session.session_id] = "closed"
    with pytest.raises(AvatarSessionError):
        await provider.keep_alive(session)


async def test_missing_avatar_is_a_config_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(AvatarConfigError, match="LIVEAVATAR_AVATAR_ID"):
        LiveAvatarProvider(
            AvatarSettings(provider="liveavatar", liveavatar_api_key=SecretStr("k")), client
        )

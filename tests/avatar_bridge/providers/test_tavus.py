from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from avatar_bridge.errors import (
    AvatarCallbackError,
    AvatarConfigError,
    AvatarSessionError,
    AvatarUnavailableError,
)
from avatar_bridge.providers.tavus import (
    TavusProvider,
    conversational_context,
    parse_tavus_callback,
    patient_ref_from_context,
)
from avatar_bridge.settings import AvatarSettings
from tests.avatar_bridge.providers.fake_vendors import TAVUS_KEY, VendorState


def settings(base_url: str, **overrides: object) -> AvatarSettings:
    values: dict[str, object] = {
        "provider": "tavus",
        "tavus_api_key": SecretStr(TAVUS_KEY),
        "tavus_base_url": base_url,
        "tavus_replica_id": "r-replica-1",
        "public_base_url": "https://aftercare.example/",
        "vendor_llm_key": SecretStr("platform-key-1"),
        "request_timeout_s": 2.0,
    }
    values.update(overrides)
    return AvatarSettings.model_validate(values)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_session_lifecycle(tavus: tuple[VendorState, str], client: httpx.AsyncClient) -> None:
    state, base_url = tavus
    provider = TavusProvider(settings(base_url), client)

    session = await provider.start_session("patient-42")
    conversation_id = session.session_id
    assert session.provider == "tavus"
    assert session.speaks_itself is True
    assert session.client == {
        "transport": "daily",
        "session_id": conversation_id,
        "conversation_id": conversation_id,
        "conversation_url": f"https://tavus.daily.co/{conversation_id}",
        "answers_via": "custom_llm",
    }

    await provider.speak(session, "Keep the catheter bag below your bladder.")
    await provider.interrupt(session)
    await provider.keep_alive(session)
    await provider.close(session)

    assert [(c.method, c.path) for c in state.calls] == [
        ("POST", "/v2/personas"),
        ("POST", "/v2/conversations"),
        ("POST", f"/v2/conversations/{conversation_id}/send-app-message"),
        ("POST", f"/v2/conversations/{conversation_id}/send-app-message"),
        ("GET", f"/v2/conversations/{conversation_id}"),
        ("POST", f"/v2/conversations/{conversation_id}/end"),
    ]
    assert all(call.headers["x-api-key"] == TAVUS_KEY for call in state.calls)
    persona, conversation, echo, interrupt = (call.body for call in state.calls[:4])
    assert persona["layers"]["llm"] == {
        "model": "aftercare",
        "base_url": "https://aftercare.example",
        "api_key": "platform-key-1",
    }
    assert persona["default_replica_id"] == "r-replica-1"
    assert conversation["persona_id"] in state.objects
    assert conversation["replica_id"] == "r-replica-1"
    assert conversation["callback_url"] == "https://aftercare.example/v1/avatar/tavus/callback"
    assert conversation["properties"] == {"max_call_duration": 1800, "participant_left_timeout": 30}
    assert patient_ref_from_context(conversation["conversational_context"]) == "patient-42"
    # Tavus's LLM requests carry no conversation id: the context carries ours.
    assert "[aftercare-conversation:tavus-" in conversation["conversational_context"]
    assert echo == {
        "message_type": "conversation",
        "event_type": "conversation.echo",
        "conversation_id": conversation_id,
        "properties": {"modality": "text", "text": "Keep the catheter bag below your bladder."},
    }
    assert interrupt == {
        "message_type": "conversation",
        "event_type": "conversation.interrupt",
        "conversation_id": conversation_id,
    }
    assert state.sessions[conversation_id] == "ended"


async def test_persona_is_created_once_for_concurrent_sessions(
    tavus: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = tavus
    provider = TavusProvider(settings(base_url), client)
    first, second = await asyncio.gather(provider.start_session("a"), provider.start_session("b"))
    assert first.session_id != second.session_id
    assert len(state.calls_to("/v2/personas")) == 1
    personas = {call.body["persona_id"] for call in state.calls_to("/v2/conversations")}
    assert len(personas) == 1


async def test_configured_persona_is_used_as_is(
    tavus: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = tavus
    state.objects["p-existing"] = {}
    provider = TavusProvider(
        settings(base_url, tavus_persona_id="p-existing", vendor_llm_key=None), client
    )
    await provider.start_session(None)
    assert state.paths() == ["/v2/conversations"]
    assert state.calls[0].body["persona_id"] == "p-existing"


async def test_ended_conversation_is_a_session_error(
    tavus: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = tavus
    provider = TavusProvider(settings(base_url), client)
    session = await provider.start_session(None)
    state.sessions[session.session_id] = "ended"
    with pytest.raises(AvatarSessionError):
        await provider.keep_alive(session)
    with pytest.raises(AvatarSessionError):
        await provider.speak(session, "Hello.")
    del state.sessions[session.session_id]
    with pytest.raises(AvatarSessionError):
        await provider.keep_alive(session)


async def test_vendor_error_and_timeout_are_unavailable(
    tavus: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    state, base_url = tavus
    provider = TavusProvider(settings(base_url, request_timeout_s=0.3), client)
    state.fail["/v2/personas"] = 502
    with pytest.raises(AvatarUnavailableError, match="Tavus failed to create the persona"):
        await provider.start_session(None)

    del state.fail["/v2/personas"]
    session = await provider.start_session(None)
    state.hang.add(f"/v2/conversations/{session.session_id}/send-app-message")
    started = time.monotonic()
    with pytest.raises(AvatarUnavailableError, match="did not answer"):
        await provider.speak(session, "Hello.")
    assert time.monotonic() - started < 1.0


async def test_bad_key_is_refused(
    tavus: tuple[VendorState, str], client: httpx.AsyncClient
) -> None:
    _, base_url = tavus
    provider = TavusProvider(settings(base_url, tavus_api_key=SecretStr("not-the-key")), client)
    with pytest.raises(AvatarUnavailableError, match="refused our API key") as caught:
        await provider.start_session(None)
    assert "not-the-key" not in str(caught.value)


async def test_callback_url_carries_the_token(client: httpx.AsyncClient) -> None:
    provider = TavusProvider(
        settings("http://unused", tavus_callback_token=SecretStr("s3cret/+")), client
    )
    assert provider.callback_url == (
        "https://aftercare.example/v1/avatar/tavus/callback?token=s3cret%2F%2B"
    )
    assert provider.callback_token_ok("s3cret/+")
    assert not provider.callback_token_ok("guess")
    assert not provider.callback_token_ok(None)
    # With no token configured, no callback is trusted (it would be open to anyone).
    open_provider = TavusProvider(settings("http://unused"), client)
    assert not open_provider.callback_token_ok(None)
    assert not open_provider.callback_token_ok("")


async def test_missing_settings_are_config_errors(client: httpx.AsyncClient) -> None:
    with pytest.raises(AvatarConfigError, match="PUBLIC_BASE_URL"):
        TavusProvider(settings("http://x", public_base_url=None), client)
    with pytest.raises(AvatarConfigError, match="VENDOR_LLM_KEY"):
        TavusProvider(settings("http://x", vendor_llm_key=None), client)
    with pytest.raises(AvatarConfigError, match="TAVUS_REPLICA_ID"):
        TavusProvider(settings("http://x", tavus_replica_id=None), client)


def test_context_marker_round_trip_and_validation() -> None:
    assert patient_ref_from_context(conversational_context("mrn:123-A")) == "mrn:123-A"
    assert patient_ref_from_context(conversational_context(None)) is None
    with pytest.raises(ValueError):
        conversational_context("x] [aftercare-patient-ref:other")


def test_parse_callbacks() -> None:
    joined = parse_tavus_callback(
        {
            "properties": {"replica_id": "r1"},
            "conversation_id": "c1",
            "webhook_url": "https://aftercare.example/cb",
            "event_type": "system.replica_joined",
            "message_type": "system",
            "timestamp": "2026-01-01T00:00:00Z",
        }
    )
    assert (joined.provider, joined.session_id, joined.kind) == ("tavus", "c1", "session_ready")

    shutdown = parse_tavus_callback(
        {
            "properties": {"replica_id": "r1", "shutdown_reason": "participant_left_timeout"},
            "conversation_id": "c1",
            "event_type": "system.shutdown",
            "message_type": "system",
        }
    )
    assert shutdown.kind == "session_ended"
    assert shutdown.reason == "participant_left_timeout"

    transcript = parse_tavus_callback(
        {
            "properties": {
                "replica_id": "r1",
                "transcript": [
                    {"role": "system", "content": "persona prompt"},
                    {"role": "user", "content": "When can I drive?"},
                    {"role": "assistant", "content": "After about two weeks."},
                ],
            },
            "conversation_id": "c1",
            "event_type": "application.transcription_ready",
            "message_type": "application",
        }
    )
    assert transcript.kind == "transcript_ready"
    assert transcript.transcript == (
        ("user", "When can I drive?"),
        ("assistant", "After about two weeks."),
    )

    other = parse_tavus_callback({"conversation_id": "c1", "event_type": "application.new"})
    assert other.kind == "other" and other.vendor_event == "application.new"


@pytest.mark.parametrize(
    "body",
    [[], {"event_type": "system.shutdown"}, {"conversation_id": "c1"}, {"conversation_id": 5}],
)
def test_malformed_callbacks_are_refused(body: object) -> None:
    with pytest.raises(AvatarCallbackError):
        parse_tavus_callback(body)

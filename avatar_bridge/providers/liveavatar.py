"""HeyGen LiveAvatar sessions (``api.liveavatar.com``).

The backend mints a session token with the API key (``POST /v1/sessions/token``) and starts
the session with it (``POST /v1/sessions/start``); the page joins the LiveKit room with the
returned URL and client token. Keep-alive and stop carry the API key and the session id.

Who speaks: in FULL mode with our endpoint registered as the custom LLM
(:meth:`LiveAvatarProvider.register_custom_llm`, then ``liveavatar_llm_configuration_id``),
LiveAvatar transcribes the patient, calls our OpenAI-compatible ``/chat/completions`` and
speaks the answer itself. Anything else the avatar must say, and every interrupt, is a
command on the LiveKit data channel (topic ``agent-control``), which only a room participant
can send: the page. So ``speaks_itself`` is False, ``speak`` and ``interrupt`` have no server
side, and the session's ``client["commands"]`` (or :func:`speak_command` /
:func:`interrupt_command`) give the page the exact messages to publish.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from pydantic import SecretStr

from avatar_bridge.errors import AvatarError, AvatarUnavailableError
from avatar_bridge.providers.base import (
    AvatarSession,
    call_vendor,
    check_session,
    field_str,
    join_url,
    require,
    require_secret,
)
from avatar_bridge.settings import AvatarSettings

VENDOR = "LiveAvatar"
DATA_TOPIC = "agent-control"
_GONE_WORDS = ("not found", "closed", "ended", "expired", "not active", "inactive")


def speak_command(session_id: str, text: str) -> dict[str, Any]:
    """The data-channel message that makes the avatar say ``text`` word for word."""
    return {"event_type": "avatar.speak_text", "session_id": session_id, "text": text}


def interrupt_command(session_id: str) -> dict[str, Any]:
    """The data-channel message that stops the avatar and drops its queued speech."""
    return {"event_type": "avatar.interrupt", "session_id": session_id}


def _session_gone(response: httpx.Response, body: dict[str, Any]) -> bool:
    message = str(body.get("message") or body.get("detail") or "").lower()
    return "session" in message and any(word in message for word in _GONE_WORDS)


def _data(body: dict[str, Any]) -> dict[str, Any]:
    # Answers are wrapped as {"code", "data", "message"}; accept a bare object too.
    data = body.get("data")
    return data if isinstance(data, dict) else body


class LiveAvatarProvider:
    name = "liveavatar"

    def __init__(self, settings: AvatarSettings, client: httpx.AsyncClient) -> None:
        self._api_key = require_secret(settings.liveavatar_api_key, VENDOR, "liveavatar_api_key")
        self._avatar_id = require(settings.liveavatar_avatar_id, VENDOR, "liveavatar_avatar_id")
        self._settings = settings
        self._client = client

    @property
    def answers_via_custom_llm(self) -> bool:
        return (
            self._settings.liveavatar_mode == "FULL"
            and self._settings.liveavatar_llm_configuration_id is not None
        )

    async def start_session(self, patient_ref: str | None) -> AvatarSession:
        settings = self._settings
        persona: dict[str, Any] = {"language": settings.liveavatar_language}
        if settings.liveavatar_voice_id:
            persona["voice_id"] = settings.liveavatar_voice_id
        if settings.liveavatar_context_id:
            persona["context_id"] = settings.liveavatar_context_id
        token_request: dict[str, Any] = {
            "mode": settings.liveavatar_mode,
            "avatar_id": self._avatar_id,
            "avatar_persona": persona,
        }
        if self.answers_via_custom_llm:
            token_request["llm_configuration_id"] = settings.liveavatar_llm_configuration_id

        minted = _data(
            await self._call(
                "create a session token", "POST", "/v1/sessions/token", token_request, self._keyed()
            )
        )
        session_id = field_str(minted, "session_id", VENDOR, "create a session token")
        session_token = field_str(minted, "session_token", VENDOR, "create a session token")

        try:
            started = _data(
                await self._call(
                    "start the session",
                    "POST",
                    "/v1/sessions/start",
                    None,
                    {"Authorization": f"Bearer {session_token}", "accept": "application/json"},
                )
            )
            livekit_url = field_str(started, "livekit_url", VENDOR, "start the session")
            client_token = field_str(started, "livekit_client_token", VENDOR, "start the session")
        except AvatarError:
            with contextlib.suppress(AvatarError):
                await self._stop(session_id)
            raise

        return AvatarSession(
            provider=self.name,
            session_id=session_id,
            patient_ref=patient_ref,
            client={
                "transport": "livekit",
                "session_id": session_id,
                "livekit_url": livekit_url,
                "access_token": client_token,
                "data_topic": DATA_TOPIC,
                "answers_via": "custom_llm" if self.answers_via_custom_llm else "page_relay",
                "commands": {
                    "speak": speak_command(session_id, ""),
                    "interrupt": interrupt_command(session_id),
                },
            },
            speaks_itself=False,
            keepalive_s=settings.keepalive_s,
            raw=started,
        )

    async def speak(self, session: AvatarSession, text: str) -> None:
        """No server side: the page publishes :func:`speak_command` on the data channel."""
        check_session(session, self.name)

    async def interrupt(self, session: AvatarSession) -> None:
        """No server side: the page publishes :func:`interrupt_command` on the data channel."""
        check_session(session, self.name)

    async def keep_alive(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._call(
            "keep the session alive",
            "POST",
            "/v1/sessions/keep-alive",
            {"session_id": session.session_id},
            self._keyed(),
            session_scoped=True,
        )

    async def close(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._stop(session.session_id)

    async def register_custom_llm(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        model_name: str | None = None,
        display_name: str = "Aftercare",
    ) -> str:
        """Store ``api_key`` as a LiveAvatar secret and create an LLM configuration that calls
        ``base_url`` (our server root, which serves ``/chat/completions`` and
        ``/v1/chat/completions``); returns the configuration id for
        ``AFTERCARE_AVATAR__LIVEAVATAR_LLM_CONFIGURATION_ID``."""
        secret = _data(
            await self._call(
                "store our endpoint key",
                "POST",
                "/v1/secrets",
                {
                    "secret_type": "OPENAI_API_KEY",
                    "secret_value": api_key.get_secret_value(),
                    "secret_name": f"{display_name} endpoint key",
                },
                self._keyed(),
            )
        )
        secret_id = _first_id(secret, ("id", "secret_id"), "store our endpoint key")
        config = _data(
            await self._call(
                "register our endpoint as its LLM",
                "POST",
                "/v1/llm-configurations",
                {
                    "display_name": display_name,
                    "model_name": model_name or self._settings.vendor_llm_model,
                    "secret_id": secret_id,
                    "base_url": base_url,
                },
                self._keyed(),
            )
        )
        return _first_id(config, ("id", "llm_configuration_id"), "register our endpoint")

    async def _stop(self, session_id: str) -> None:
        await self._call(
            "stop the session",
            "POST",
            "/v1/sessions/stop",
            {"session_id": session_id, "reason": "USER_CLOSED"},
            self._keyed(),
            session_scoped=True,
        )

    def _keyed(self) -> dict[str, str]:
        return {"X-API-KEY": self._api_key.get_secret_value(), "accept": "application/json"}

    async def _call(
        self,
        action: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        *,
        session_scoped: bool = False,
    ) -> dict[str, Any]:
        answer = await call_vendor(
            self._client,
            vendor=VENDOR,
            action=action,
            method=method,
            url=join_url(self._settings.liveavatar_base_url, path),
            headers=headers,
            json=body,
            timeout_s=self._settings.request_timeout_s,
            session_gone=_session_gone if session_scoped else None,
        )
        code = answer.get("code")
        if code is not None and code != 100:
            raise AvatarUnavailableError(f"{VENDOR} failed to {action} (code {code}).")
        return answer


def _first_id(body: dict[str, Any], keys: tuple[str, ...], action: str) -> str:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    raise AvatarUnavailableError(f"{VENDOR} answered {action} without an id.")

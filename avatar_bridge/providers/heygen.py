"""HeyGen Interactive (Streaming) Avatar, the legacy API (``/v1/streaming.*``).

The backend mints a short-lived session token with the API key, opens a LiveKit session with
it (``streaming.new``, ``version: "v2"``) and starts it; the page joins the LiveKit room with
the returned URL and access token. Our sentences are spoken word for word with ``repeat``
tasks: never ``talk``, which would answer with HeyGen's own language model. The session
token is used only to create and start the session; later control calls carry the API key,
so any worker (or a restarted one) can drive a session from its id alone.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from avatar_bridge.errors import AvatarError, AvatarSessionError, AvatarUnavailableError
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

VENDOR = "HeyGen"
SUCCESS_CODE = 100
# HeyGen's "Session is not in correct state": the session was stopped or timed out.
SESSION_STATE_CODE = 400006


def _session_state_error(body: dict[str, Any]) -> bool:
    message = str(body.get("message", "")).lower()
    return body.get("code") == SESSION_STATE_CODE and "session" in message


def _session_gone(response: httpx.Response, body: dict[str, Any]) -> bool:
    return _session_state_error(body)


class HeyGenProvider:
    name = "heygen"

    def __init__(self, settings: AvatarSettings, client: httpx.AsyncClient) -> None:
        self._api_key = require_secret(settings.heygen_api_key, VENDOR, "heygen_api_key")
        self._avatar_id = require(settings.heygen_avatar_id, VENDOR, "heygen_avatar_id")
        self._settings = settings
        self._client = client
        self._timeout_s = settings.request_timeout_s
        # Keep-alives well inside HeyGen's idle timeout.
        self._keepalive_s = min(settings.keepalive_s, settings.heygen_idle_timeout_s / 2)

    async def start_session(self, patient_ref: str | None) -> AvatarSession:
        token_body = await self._call(
            "create a session token", "/v1/streaming.create_token", {}, self._key_headers()
        )
        token = field_str(_data(token_body, "create a session token"), "token", VENDOR, "token")
        bearer = {"Authorization": f"Bearer {token}"}

        new_body: dict[str, Any] = {
            "avatar_id": self._avatar_id,
            "language": self._settings.heygen_language,
            "quality": self._settings.heygen_quality,
            "version": "v2",
            "video_encoding": "VP8",
            "disable_idle_timeout": False,
            "activity_idle_timeout": self._settings.heygen_idle_timeout_s,
        }
        if self._settings.heygen_voice_id:
            new_body["voice"] = {"voice_id": self._settings.heygen_voice_id}
        created = _data(
            await self._call("create a session", "/v1/streaming.new", new_body, bearer),
            "create a session",
        )
        session_id = field_str(created, "session_id", VENDOR, "create a session")
        livekit_url = field_str(created, "url", VENDOR, "create a session")
        access_token = field_str(created, "access_token", VENDOR, "create a session")

        try:
            await self._call(
                "start the session", "/v1/streaming.start", {"session_id": session_id}, bearer
            )
        except AvatarError:
            # The session exists and is billed: stop it before giving up.
            with contextlib.suppress(AvatarError):
                await self._call(
                    "stop the session",
                    "/v1/streaming.stop",
                    {"session_id": session_id},
                    self._key_headers(),
                )
            raise

        return AvatarSession(
            provider=self.name,
            session_id=session_id,
            patient_ref=patient_ref,
            client={
                "transport": "livekit",
                "session_id": session_id,
                "livekit_url": livekit_url,
                "access_token": access_token,
            },
            speaks_itself=True,
            keepalive_s=self._keepalive_s,
            raw=created,
        )

    async def speak(self, session: AvatarSession, text: str) -> None:
        check_session(session, self.name)
        if not text.strip():
            return
        await self._session_call(
            "speak a sentence",
            "/v1/streaming.task",
            {"session_id": session.session_id, "text": text, "task_type": "repeat"},
        )

    async def interrupt(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._session_call(
            "interrupt the avatar", "/v1/streaming.interrupt", {"session_id": session.session_id}
        )

    async def keep_alive(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._session_call(
            "keep the session alive", "/v1/streaming.keep_alive", {"session_id": session.session_id}
        )

    async def close(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._session_call(
            "stop the session", "/v1/streaming.stop", {"session_id": session.session_id}
        )

    def _key_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key.get_secret_value(), "accept": "application/json"}

    async def _session_call(self, action: str, path: str, body: dict[str, Any]) -> None:
        await self._call(action, path, body, self._key_headers(), session_scoped=True)

    async def _call(
        self,
        action: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        *,
        session_scoped: bool = False,
    ) -> dict[str, Any]:
        answer = await call_vendor(
            self._client,
            vendor=VENDOR,
            action=action,
            method="POST",
            url=join_url(self._settings.heygen_base_url, path),
            headers=headers,
            json=body,
            timeout_s=self._timeout_s,
            session_gone=_session_gone if session_scoped else None,
        )
        code = answer.get("code")
        if answer.get("error") or (code is not None and code != SUCCESS_CODE):
            if session_scoped and _session_state_error(answer):
                raise AvatarSessionError(
                    f"{VENDOR} no longer knows this avatar session (asked to {action})."
                )
            raise AvatarUnavailableError(f"{VENDOR} failed to {action} (code {code}).")
        return answer


def _data(body: dict[str, Any], action: str) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise AvatarUnavailableError(f"{VENDOR} answered {action} without data.")
    return data

"""The avatar provider contract: one session shape, one protocol, one way to call a vendor.

Every vendor call goes through :func:`call_vendor`, which bounds the whole request by the
configured timeout and turns every failure into one of two errors: the vendor is unusable
right now (:class:`AvatarUnavailableError`, the app falls back to the browser voice) or the
session is gone (:class:`AvatarSessionError`, the page may start a new one). Messages name
the vendor and the step, never a key, a token or what the patient said.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from avatar_bridge.errors import AvatarConfigError, AvatarSessionError, AvatarUnavailableError


@dataclass(frozen=True)
class AvatarSession:
    """One live avatar session, in the same shape for every vendor.

    ``client`` is everything the patient's page needs to join (a LiveKit URL and token, a
    Tavus conversation URL, the data-channel commands to relay); it is sent to the page and
    holds no API key. ``speaks_itself`` is True when the vendor turns our text into speech on
    a server call (:meth:`AvatarProvider.speak`); when False the page produces the voice.
    """

    provider: str
    session_id: str
    patient_ref: str | None
    client: dict[str, Any]
    speaks_itself: bool
    keepalive_s: float | None
    raw: dict[str, Any] = field(default_factory=dict)


EventKind = Literal[
    "session_ready", "session_ended", "transcript_ready", "recording_ready", "other"
]


@dataclass(frozen=True)
class AvatarEvent:
    """Something the vendor told us about a session (for example through a callback)."""

    provider: str
    session_id: str
    kind: EventKind
    vendor_event: str
    reason: str | None = None
    transcript: tuple[tuple[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class AvatarProvider(Protocol):
    """An avatar platform. All methods raise :class:`AvatarUnavailableError` when the vendor
    errors or times out, and :class:`AvatarSessionError` when the session is gone."""

    name: str

    async def start_session(self, patient_ref: str | None) -> AvatarSession: ...

    async def speak(self, session: AvatarSession, text: str) -> None: ...

    async def interrupt(self, session: AvatarSession) -> None: ...

    async def keep_alive(self, session: AvatarSession) -> None: ...

    async def close(self, session: AvatarSession) -> None: ...


def require(value: str | None, vendor: str, setting: str) -> str:
    """A setting the selected vendor cannot work without."""
    if value is None or not value.strip():
        raise AvatarConfigError(
            f"The {vendor} avatar is selected but AFTERCARE_AVATAR__{setting.upper()} is not set."
        )
    return value


def require_secret(value: SecretStr | None, vendor: str, setting: str) -> SecretStr:
    if value is None or not value.get_secret_value().strip():
        raise AvatarConfigError(
            f"The {vendor} avatar is selected but AFTERCARE_AVATAR__{setting.upper()} is not set."
        )
    return value


def check_session(session: AvatarSession, provider: str) -> None:
    if session.provider != provider:
        raise AvatarSessionError(
            f"Session {session.session_id} belongs to the {session.provider} avatar, "
            f"not to {provider}."
        )


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


SessionGone = Callable[[httpx.Response, dict[str, Any]], bool]


def _not_found(response: httpx.Response, body: dict[str, Any]) -> bool:
    return response.status_code in (404, 410)


async def call_vendor(
    client: httpx.AsyncClient,
    *,
    vendor: str,
    action: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    json: dict[str, Any] | None = None,
    session_gone: SessionGone | None = None,
) -> dict[str, Any]:
    """One request to a vendor, bounded by ``timeout_s`` in total; the JSON object it answers.

    ``session_gone`` marks a session-scoped call: it decides which error answers mean the
    session no longer exists (404/410 when not given a more specific rule).
    """
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.request(
                method, url, headers=dict(headers), json=json, timeout=timeout_s
            )
            content = await response.aread()
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise AvatarUnavailableError(
            f"{vendor} did not answer within {timeout_s:g} s when asked to {action}."
        ) from exc
    except httpx.HTTPError as exc:
        raise AvatarUnavailableError(
            f"{vendor} could not be reached to {action} ({type(exc).__name__})."
        ) from exc

    parsed = _json_object(content)
    body = parsed or {}
    status = response.status_code
    if status >= 400:
        if status in (401, 403):
            raise AvatarUnavailableError(
                f"{vendor} refused our API key when asked to {action} (HTTP {status})."
            )
        if session_gone is not None and (
            _not_found(response, body) or session_gone(response, body)
        ):
            raise AvatarSessionError(
                f"{vendor} no longer knows this avatar session (asked to {action}, HTTP {status})."
            )
        raise AvatarUnavailableError(f"{vendor} failed to {action} (HTTP {status}).")
    if content.strip() and parsed is None:
        raise AvatarUnavailableError(f"{vendor} answered {action} with something other than JSON.")
    return body


def _json_object(content: bytes) -> dict[str, Any] | None:
    if not content.strip():
        return None
    try:
        parsed = jsonlib.loads(content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def field_str(body: Mapping[str, Any], key: str, vendor: str, action: str) -> str:
    """A required string field of a vendor answer."""
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise AvatarUnavailableError(f"{vendor} answered {action} without a {key}.")
    return value

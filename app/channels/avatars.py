"""Avatar sessions for patients' pages: start, speak through, keep alive, fall back.

A vendor that errors or times out never leaves the patient in silence: the voice socket
is told (``avatar.degraded``) and the page speaks the sentences itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.channels.voice_session import SpeechOut
from app.operations.metrics import Metrics
from avatar_bridge.errors import AvatarError
from avatar_bridge.keepalive import KeepAlive
from avatar_bridge.providers.base import AvatarProvider, AvatarSession

log = logging.getLogger("aftercare.avatar")
Notify = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Bound:
    session: AvatarSession
    patient_id: str | None
    listeners: list[Notify] = field(default_factory=list)


class AvatarHub:
    def __init__(self, provider: AvatarProvider, metrics: Metrics) -> None:
        self.provider = provider
        self._metrics = metrics
        self._sessions: dict[str, _Bound] = {}
        self.keepalive: KeepAlive | None = None

    @property
    def configured(self) -> bool:
        return self.provider.name != "browser"

    async def start(self, patient_id: str | None) -> AvatarSession:
        try:
            session = await self.provider.start_session(patient_id)
        except AvatarError:
            self._metrics.avatar_failures.labels(self.provider.name, "start").inc()
            raise
        self._sessions[session.session_id] = _Bound(session, patient_id)
        if self.keepalive is not None:
            self.keepalive.register(session)
        return session

    def public(self, session: AvatarSession) -> dict[str, Any]:
        """What the page needs; the vendor's raw answer never leaves the server."""
        return {
            "provider": session.provider,
            "session_id": session.session_id,
            "client": session.client,
            "speaks_itself": session.speaks_itself,
        }

    def has_patient(self, patient_id: str) -> bool:
        """Whether a live session was started for this patient (with his key)."""
        return any(bound.patient_id == patient_id for bound in self._sessions.values())

    def session(self, session_id: str, patient_id: str | None) -> AvatarSession | None:
        bound = self._sessions.get(session_id)
        if bound is None or bound.patient_id != patient_id:
            return None
        return bound.session

    async def close(self, session_id: str) -> None:
        bound = self._sessions.pop(session_id, None)
        if bound is None:
            return
        if self.keepalive is not None:
            await self.keepalive.close(bound.session)
        else:
            with contextlib.suppress(AvatarError):
                await self.provider.close(bound.session)

    async def close_all(self) -> None:
        for session_id in list(self._sessions):
            with contextlib.suppress(Exception):
                await self.close(session_id)

    def listen(self, session_id: str, notify: Notify) -> Callable[[], None]:
        bound = self._sessions.get(session_id)
        if bound is None:
            return lambda: None
        bound.listeners.append(notify)
        return lambda: bound.listeners.remove(notify) if notify in bound.listeners else None

    async def dropped(self, session_id: str, reason: str) -> None:
        """Keep-alive found the vendor session gone: tell the page, which can restart it."""
        bound = self._sessions.pop(session_id, None)
        self._metrics.avatar_failures.labels(self.provider.name, "keep_alive").inc()
        if bound is None:
            return
        for notify in list(bound.listeners):
            with contextlib.suppress(Exception):
                await notify(
                    {
                        "type": "avatar.dropped",
                        "session_id": session_id,
                        "message": "The video stopped; voice continues. " + reason,
                    }
                )

    def failed(self, operation: str) -> None:
        self._metrics.avatar_failures.labels(self.provider.name, operation).inc()

    def speech_out(self, session: AvatarSession, notify: Notify) -> SpeechOut:
        return _AvatarSpeech(self, session, notify)


class _AvatarSpeech(SpeechOut):
    """Sends each sentence to a vendor that speaks; on failure, the page takes over."""

    def __init__(self, hub: AvatarHub, session: AvatarSession, notify: Notify) -> None:
        self._hub = hub
        self._session = session
        self._notify = notify
        self._degraded = not session.speaks_itself

    async def say(self, text: str) -> None:
        if self._degraded:
            return
        try:
            await self._hub.provider.speak(self._session, text)
        except AvatarError as exc:
            await self._degrade("speak", exc)

    async def stop(self) -> None:
        if self._degraded:
            return
        try:
            await self._hub.provider.interrupt(self._session)
        except AvatarError as exc:
            await self._degrade("interrupt", exc)

    async def _degrade(self, operation: str, exc: AvatarError) -> None:
        self._degraded = True
        self._hub.failed(operation)
        log.warning(
            "avatar %s failed (%s): falling back to the browser voice",
            operation,
            type(exc).__name__,
        )
        await self._notify(
            {
                "type": "avatar.degraded",
                "message": "The video avatar is not responding; your browser will speak instead.",
                "speak_in_browser": True,
            }
        )

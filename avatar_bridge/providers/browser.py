"""The default avatar: no vendor. The patient's page speaks each sentence with the
browser's own speech synthesis, so there is nothing to start, keep alive or stop remotely."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from avatar_bridge.errors import AvatarSessionError
from avatar_bridge.providers.base import AvatarSession, check_session


class BrowserProvider:
    """Sessions that live only in the page. ``speak`` and ``interrupt`` have no server side:
    the app sends the sentence (or the interrupt) to the page, which speaks (or stops)."""

    name = "browser"

    def __init__(self, new_id: Callable[[], str] | None = None) -> None:
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._open: set[str] = set()

    async def start_session(self, patient_ref: str | None) -> AvatarSession:
        session_id = self._new_id()
        self._open.add(session_id)
        return AvatarSession(
            provider=self.name,
            session_id=session_id,
            patient_ref=patient_ref,
            client={},
            speaks_itself=False,
            keepalive_s=None,
            raw={},
        )

    async def speak(self, session: AvatarSession, text: str) -> None:
        self._check_open(session)

    async def interrupt(self, session: AvatarSession) -> None:
        self._check_open(session)

    async def keep_alive(self, session: AvatarSession) -> None:
        self._check_open(session)

    async def close(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        self._open.discard(session.session_id)

    def _check_open(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        if session.session_id not in self._open:
            raise AvatarSessionError(f"Browser voice session {session.session_id} is closed.")

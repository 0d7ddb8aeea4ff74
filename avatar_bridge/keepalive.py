"""Keeps live avatar sessions from idling out, and notices the ones the vendor dropped.

One APScheduler interval job per session, in the scheduler's in-memory job store (a session
does not outlive the process that holds its page connection). Each beat calls the provider's
``keep_alive``. When the vendor says the session is gone, or it fails ``max_failures`` beats
in a row, the job is removed and ``on_dropped(session_id, reason)`` tells the app, which
tells the page; the page can then start a new session.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from avatar_bridge.errors import AvatarError, AvatarSessionError
from avatar_bridge.providers.base import AvatarProvider, AvatarSession

logger = logging.getLogger(__name__)

OnDropped = Callable[[str, str], Awaitable[None]]
JOB_PREFIX = "avatar-keepalive:"


@dataclass
class _Tracked:
    session: AvatarSession
    failures: int = 0


class KeepAlive:
    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        provider: AvatarProvider,
        on_dropped: OnDropped,
        *,
        max_failures: int = 2,
        jobstore: str = "memory",
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self._scheduler = scheduler
        self._provider = provider
        self._on_dropped = on_dropped
        self._max_failures = max_failures
        self._jobstore = jobstore
        self._sessions: dict[str, _Tracked] = {}

    @property
    def session_ids(self) -> frozenset[str]:
        return frozenset(self._sessions)

    def register(self, session: AvatarSession) -> bool:
        """Start keeping ``session`` alive; False when it needs no keep-alive."""
        if session.keepalive_s is None:
            return False
        self._sessions[session.session_id] = _Tracked(session)
        self._scheduler.add_job(
            self._beat,
            "interval",
            seconds=session.keepalive_s,
            args=[session.session_id],
            id=JOB_PREFIX + session.session_id,
            jobstore=self._jobstore,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(session.keepalive_s)),
        )
        return True

    def unregister(self, session_id: str) -> None:
        """Stop keeping the session alive (it is closing or already gone)."""
        self._sessions.pop(session_id, None)
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(JOB_PREFIX + session_id, jobstore=self._jobstore)

    async def close(self, session: AvatarSession) -> None:
        """Stop the keep-alives, then close the session at the vendor."""
        self.unregister(session.session_id)
        await self._provider.close(session)

    async def _beat(self, session_id: str) -> None:
        tracked = self._sessions.get(session_id)
        if tracked is None:
            self.unregister(session_id)
            return
        try:
            await self._provider.keep_alive(tracked.session)
        except AvatarSessionError as exc:
            await self._drop(session_id, str(exc))
        except AvatarError as exc:
            tracked.failures += 1
            logger.warning(
                "avatar keep-alive failed (%s, %d in a row)",
                self._provider.name,
                tracked.failures,
            )
            if tracked.failures >= self._max_failures:
                await self._drop(session_id, str(exc))
        else:
            tracked.failures = 0

    async def _drop(self, session_id: str, reason: str) -> None:
        if session_id not in self._sessions:
            return
        self.unregister(session_id)
        logger.warning("avatar session dropped (%s)", self._provider.name)
        await self._on_dropped(session_id, reason)

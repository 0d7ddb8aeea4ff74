from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr

from avatar_bridge.keepalive import JOB_PREFIX, KeepAlive
from avatar_bridge.providers.browser import BrowserProvider
from avatar_bridge.providers.heygen import HeyGenProvider
from avatar_bridge.settings import AvatarSettings
from tests.avatar_bridge.providers.fake_vendors import HEYGEN_KEY, VendorState


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
async def scheduler() -> AsyncIterator[AsyncIOScheduler]:
    scheduler = AsyncIOScheduler(jobstores={"memory": MemoryJobStore()})
    scheduler.start()
    yield scheduler
    scheduler.shutdown(wait=False)


class Drops:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.event = asyncio.Event()

    async def __call__(self, session_id: str, reason: str) -> None:
        self.seen.append((session_id, reason))
        self.event.set()


def provider(base_url: str, client: httpx.AsyncClient) -> HeyGenProvider:
    settings = AvatarSettings(
        provider="heygen",
        heygen_api_key=SecretStr(HEYGEN_KEY),
        heygen_base_url=base_url,
        heygen_avatar_id="Anna_public",
        keepalive_s=0.1,
        request_timeout_s=1.0,
    )
    return HeyGenProvider(settings, client)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    # The fake vendor records calls from its own thread: poll what it recorded.
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_keeps_sessions_alive_then_reports_a_dropped_one(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient, scheduler: AsyncIOScheduler
) -> None:
    state, base_url = heygen
    heygen_provider = provider(base_url, client)
    drops = Drops()
    keepalive = KeepAlive(scheduler, heygen_provider, drops)
    session = await heygen_provider.start_session("patient-1")

    assert keepalive.register(session)
    assert scheduler.get_job(JOB_PREFIX + session.session_id, jobstore="memory") is not None
    await wait_for(lambda: len(state.calls_to("/v1/streaming.keep_alive")) >= 3)
    assert all(
        call.body == {"session_id": session.session_id}
        for call in state.calls_to("/v1/streaming.keep_alive")
    )
    assert drops.seen == []

    state.sessions[session.session_id] = "closed"  # HeyGen timed the session out
    async with asyncio.timeout(3):
        await drops.event.wait()
    assert drops.seen[0][0] == session.session_id
    assert "no longer knows this avatar session" in drops.seen[0][1]
    assert scheduler.get_job(JOB_PREFIX + session.session_id, jobstore="memory") is None
    assert keepalive.session_ids == frozenset()


async def test_repeated_vendor_failures_drop_the_session(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient, scheduler: AsyncIOScheduler
) -> None:
    state, base_url = heygen
    heygen_provider = provider(base_url, client)
    drops = Drops()
    keepalive = KeepAlive(scheduler, heygen_provider, drops, max_failures=3)
    session = await heygen_provider.start_session(None)
    state.fail["/v1/streaming.keep_alive"] = 500
    keepalive.register(session)

    async with asyncio.timeout(3):
        await drops.event.wait()
    assert len(state.calls_to("/v1/streaming.keep_alive")) == 3
    assert drops.seen == [
        (session.session_id, "HeyGen failed to keep the session alive (HTTP 500).")
    ]


async def test_one_failure_between_successes_is_tolerated(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient, scheduler: AsyncIOScheduler
) -> None:
    state, base_url = heygen
    heygen_provider = provider(base_url, client)
    drops = Drops()
    keepalive = KeepAlive(scheduler, heygen_provider, drops, max_failures=2)
    session = await heygen_provider.start_session(None)
    keepalive.register(session)

    def beats() -> int:
        return len(state.calls_to("/v1/streaming.keep_alive"))

    async def next_beat() -> None:
        seen = beats()
        await wait_for(lambda: beats() > seen)

    for _ in range(2):
        state.fail["/v1/streaming.keep_alive"] = 503
        await next_beat()
        del state.fail["/v1/streaming.keep_alive"]
        await next_beat()
    assert drops.seen == []
    assert keepalive.session_ids == {session.session_id}
    keepalive.unregister(session.session_id)


async def test_close_stops_keepalives_and_the_session(
    heygen: tuple[VendorState, str], client: httpx.AsyncClient, scheduler: AsyncIOScheduler
) -> None:
    state, base_url = heygen
    heygen_provider = provider(base_url, client)
    drops = Drops()
    keepalive = KeepAlive(scheduler, heygen_provider, drops)
    session = await heygen_provider.start_session(None)
    keepalive.register(session)
    await wait_for(lambda: len(state.calls_to("/v1/streaming.keep_alive")) >= 1)

    await keepalive.close(session)
    assert state.sessions[session.session_id] == "closed"
    assert scheduler.get_job(JOB_PREFIX + session.session_id, jobstore="memory") is None
    count = len(state.calls_to("/v1/streaming.keep_alive"))
    await asyncio.sleep(0.35)
    assert len(state.calls_to("/v1/streaming.keep_alive")) == count
    assert drops.seen == []


async def test_sessions_without_keepalive_are_not_scheduled(
    scheduler: AsyncIOScheduler,
) -> None:
    browser = BrowserProvider()
    keepalive = KeepAlive(scheduler, browser, Drops())
    session = await browser.start_session(None)
    assert keepalive.register(session) is False
    assert scheduler.get_jobs(jobstore="memory") == []

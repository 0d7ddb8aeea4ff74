"""The scheduler lock row: one holder, refusals naming it, takeover of a stale one, no race."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from app.operations.scheduler_lock import (
    SchedulerLock,
    SchedulerLockedError,
    SchedulerLockLostError,
    SchedulerLockRow,
)
from escalation.database import create_tables, make_engine, make_sessionmaker

from .engines import database_urls

STALE_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _urls() -> list[str]:
    return ["sqlite"] + (["postgres"] if os.environ.get("AFTERCARE_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=_urls())
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = database_urls(tmp_path)[0 if request.param == "sqlite" else 1]
    engine: Engine = make_engine(url)
    create_tables(engine)
    made = make_sessionmaker(engine)
    with made.begin() as session:
        session.execute(delete(SchedulerLockRow))
    yield made
    engine.dispose()


def test_the_second_process_is_refused_and_told_who_holds_it(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    first = SchedulerLock(sessions, STALE_S, clock)
    first.acquire()
    second = SchedulerLock(sessions, STALE_S, clock)
    second.pid = first.pid + 1  # as another process would be
    clock.now += timedelta(seconds=STALE_S - 1)
    with pytest.raises(SchedulerLockedError) as refused:
        second.acquire()
    assert f"pid {first.pid} on {first.host}" in str(refused.value)
    assert refused.value.holder.pid == first.pid
    assert not second.held
    holder = second.holder()
    assert holder is not None and holder.pid == first.pid and not holder.stale


def test_a_stale_holder_is_taken_over_and_learns_it_lost(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    dead = SchedulerLock(sessions, STALE_S, clock)
    dead.acquire()
    clock.now += timedelta(seconds=STALE_S + 1)
    successor = SchedulerLock(sessions, STALE_S, clock)
    successor.acquire()
    assert successor.held
    with pytest.raises(SchedulerLockLostError):
        dead.beat()  # it was only paused: it must stop scheduling
    assert not dead.held
    dead.release()  # never removes the successor's row
    holder = successor.holder()
    assert holder is not None and holder.acquired_at == clock.now


def test_a_holder_whose_process_is_gone_on_this_host_is_taken_over_at_once(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    crashed = SchedulerLock(sessions, STALE_S, clock)
    crashed.pid = subprocess.Popen([sys.executable, "-c", "pass"]).pid
    os.waitpid(crashed.pid, 0)  # reaped: the pid names no process now
    crashed.acquire()
    clock.now += timedelta(seconds=1)  # its heartbeat is fresh
    restarted = SchedulerLock(sessions, STALE_S, clock)
    restarted.acquire()
    assert restarted.held
    elsewhere = SchedulerLock(sessions, STALE_S, clock)
    elsewhere.pid = restarted.pid + 1
    with pytest.raises(SchedulerLockedError):  # a live holder is still respected
        elsewhere.acquire()


def test_heartbeats_keep_a_holder_alive_and_release_frees_the_lock(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    holder = SchedulerLock(sessions, STALE_S, clock)
    holder.acquire()
    for _ in range(3):  # far past the stale age in total, but beating all along
        clock.now += timedelta(seconds=STALE_S / 2)
        holder.beat()
    other = SchedulerLock(sessions, STALE_S, clock)
    with pytest.raises(SchedulerLockedError):
        other.acquire()
    holder.release()
    assert other.holder() is None
    other.acquire()
    assert other.held


def test_racing_processes_never_both_win(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    stale = SchedulerLock(sessions, STALE_S, clock)
    stale.acquire()
    clock.now += timedelta(seconds=STALE_S * 2)
    contenders = [SchedulerLock(sessions, STALE_S, clock) for _ in range(8)]
    start = threading.Barrier(len(contenders))
    outcomes: list[str] = []

    def race(lock: SchedulerLock) -> None:
        start.wait()
        try:
            lock.acquire()
            outcomes.append("won")
        except SchedulerLockedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=race, args=(lock,)) for lock in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("won") == 1, outcomes
    assert outcomes.count("refused") == len(contenders) - 1
    assert sum(lock.held for lock in contenders) == 1

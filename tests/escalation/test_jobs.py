"""The deployment scheduler and its persistent timers, on a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from escalation import jobs
from tests.escalation.receivers import eventually


async def stopped(scheduler: AsyncIOScheduler) -> None:
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0.05)  # the asyncio scheduler shuts down on its loop


async def test_timer_fires_to_its_topic_subscriber_only(tmp_path: Path) -> None:
    scheduler = jobs.make_scheduler(f"sqlite:///{tmp_path / 'db.sqlite'}")
    scheduler.start()
    fired: list[str] = []
    other: list[str] = []
    unsubscribe = jobs.subscribe(scheduler, "alerts", fired.append)
    jobs.subscribe(scheduler, "reingest", other.append)
    try:
        jobs.schedule_at(scheduler, "alerts", "d-1", datetime.now(UTC))
        assert await eventually(lambda: fired == ["d-1"])
        assert other == []
        unsubscribe()
        jobs.schedule_at(scheduler, "alerts", "d-2", datetime.now(UTC))
        await asyncio.sleep(0.2)
        assert fired == ["d-1"]
    finally:
        await stopped(scheduler)


async def test_timer_survives_a_restart_and_fires_late_rather_than_never(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = jobs.make_scheduler(url)
    first.start()
    jobs.schedule_at(first, "alerts", "d-1", datetime.now(UTC) + timedelta(seconds=0.3))
    await stopped(first)
    await asyncio.sleep(0.4)  # the timer's time passes while nothing runs

    second = jobs.make_scheduler(url)
    fired: list[str] = []
    jobs.subscribe(second, "alerts", fired.append)
    second.start()
    try:
        assert await eventually(lambda: fired == ["d-1"])
        assert second.get_jobs() == []  # a one-off timer is gone once it fired
    finally:
        await stopped(second)


async def test_rescheduling_a_key_moves_its_single_timer(tmp_path: Path) -> None:
    scheduler = jobs.make_scheduler(f"sqlite:///{tmp_path / 'db.sqlite'}")
    scheduler.start()
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        jobs.schedule_at(scheduler, "alerts", "d-1", later)
        jobs.schedule_at(scheduler, "alerts", "d-1", later + timedelta(minutes=5))
        (job,) = scheduler.get_jobs()
        assert job.id == "alerts:d-1"
        assert job.next_run_time == later + timedelta(minutes=5)
    finally:
        await stopped(scheduler)

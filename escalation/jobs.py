"""The deployment's background scheduler, and persistent timers that wake live objects.

One APScheduler 3.x ``AsyncIOScheduler`` per deployment, built by ``make_scheduler`` with two
job stores:

- ``"default"``: a ``SQLAlchemyJobStore`` on the deployment's database (table
  ``apscheduler_jobs``), for timers that must survive a restart;
- ``"memory"`` (``MEMORY_STORE``): for jobs bound to live objects that mean nothing after a
  restart (an avatar session's keep-alive), which may therefore call bound methods.

Why persistent jobs go through ``fire`` and ``subscribe``: APScheduler persists a job as a
textual reference to a module-level function plus pickled arguments. The objects that do the
work (the alert outbox, the corpus indexer) are built by the composition root and live only in
memory, and no module-level registry may hold them. So a persisted job never calls into them:
it runs ``fire(topic, key)``, a module-level coroutine that only returns its arguments, and the
scheduler reports that result to its own listeners (``EVENT_JOB_EXECUTED``). A live object
subscribes to its topic on the scheduler instance it was given and does the work when its key
fires. The job store keeps the timing across restarts; the state of the work stays with its
owner (for alerts, the ``alert_deliveries`` table), which re-arms its timers when it starts, so
a timer fired while nobody listened loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from escalation.database import make_engine

PERSISTENT_STORE = "default"
MEMORY_STORE = "memory"


def make_scheduler(database_url: str | None) -> AsyncIOScheduler:
    """A scheduler (not started) whose default job store is a table in ``database_url``.

    Start it inside the running event loop (``scheduler.start()``) and stop it with
    ``scheduler.shutdown(wait=False)``. Missed runs are not dropped: a job whose time passed
    while the process was down runs once when the scheduler starts.

    ``None`` builds a web worker's session timers: the memory store only, so this process
    can never open (and so never share) the deployment's persistent job store.
    """
    stores: dict[str, Any] = {MEMORY_STORE: MemoryJobStore()}
    if database_url is not None:
        stores[PERSISTENT_STORE] = SQLAlchemyJobStore(engine=make_engine(database_url))
    return AsyncIOScheduler(
        jobstores=stores,
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=UTC,
    )


async def fire(topic: str, key: str) -> tuple[str, str]:
    """The function every persistent timer runs; its result tells subscribers what is due."""
    return (topic, key)


def job_id(topic: str, key: str) -> str:
    return f"{topic}:{key}"


def schedule_at(scheduler: AsyncIOScheduler, topic: str, key: str, when: datetime) -> None:
    """Arm (or move) the persistent timer ``topic``/``key`` to fire once at ``when``.

    A time in the past fires as soon as the scheduler runs. Scheduling before the scheduler
    starts is allowed: the timer is stored when it starts.
    """
    scheduler.add_job(
        fire,
        trigger="date",
        run_date=when,
        args=[topic, key],
        id=job_id(topic, key),
        jobstore=PERSISTENT_STORE,
        replace_existing=True,
        misfire_grace_time=None,
        coalesce=True,
    )


def subscribe(
    scheduler: AsyncIOScheduler, topic: str, handler: Callable[[str], None]
) -> Callable[[], None]:
    """Call ``handler(key)`` whenever a timer of ``topic`` fires; returns the unsubscriber.

    The handler runs on the scheduler's event loop thread and must return quickly (start a
    task for real work).
    """

    def listener(event: JobExecutionEvent) -> None:
        retval: Any = event.retval
        if (
            isinstance(retval, tuple)
            and len(retval) == 2
            and retval[0] == topic
            and isinstance(retval[1], str)
            and event.job_id == job_id(topic, retval[1])
        ):
            handler(retval[1])

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)

    def unsubscribe() -> None:
        scheduler.remove_listener(listener)

    return unsubscribe

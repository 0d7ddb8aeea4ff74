"""Deployment roles: who serves, who schedules.

``AFTERCARE_ROLE`` says what a process does:

- ``all`` (the default, ``make run``): one process serves HTTP and runs the deployment's one
  scheduler (alert delivery, re-ingestion, retention, review digests);
- ``web``: ``aftercare serve --workers N`` runs N stateless uvicorn worker processes that
  serve only. They never ingest and never open the persistent job store; alerts they raise are
  outbox rows the worker delivers; each re-reads the index every ``index_refresh_s``. Only
  their own avatar sessions' keep-alives run in them (a session lives with the process that
  holds its page connection). Web workers need a Chroma server: the embedded store belongs
  to one process;
- ``worker``: ``aftercare worker`` ingests, then runs the scheduler and no HTTP server.

Whichever process schedules first takes the deployment's scheduler lock
(``app.operations.scheduler_lock``); a second one refuses to start and names the first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from fastapi import FastAPI

from app.errors import AppError
from app.operations.scheduler_lock import SchedulerLock, SchedulerLockedError
from app.settings import Settings, load_settings

log = logging.getLogger("aftercare")

WEB_APP = "app.operations.roles:web_app"
EXIT_OK, EXIT_FATAL, EXIT_NO_WORKER = 0, 1, 3


class RoleConfigError(AppError):
    """A role and a command (or a store) that cannot go together."""


def web_app() -> FastAPI:
    """The app of one web worker process, built from the environment (uvicorn's factory)."""
    from app.main import create_app

    return create_app(load_settings())


def check_serve(settings: Settings, workers: int) -> None:
    """Refuse topologies that would schedule twice or share the embedded store."""
    if workers < 1:
        raise RoleConfigError("--workers must be at least 1")
    if settings.role == "worker":
        raise RoleConfigError(
            "AFTERCARE_ROLE=worker is what `aftercare worker` runs; serve with "
            "AFTERCARE_ROLE=all (one process) or web"
        )
    if workers > 1 and settings.role != "web":
        raise RoleConfigError(
            "several web workers only serve: set AFTERCARE_ROLE=web and run the one scheduler "
            "with `aftercare worker`"
        )
    if settings.role == "web" and not settings.ingestion.chroma_host:
        raise RoleConfigError(
            "web workers read an index that the worker process writes, so they need a Chroma "
            "server (AFTERCARE_INGESTION__CHROMA_HOST and __CHROMA_PORT); the embedded store "
            "belongs to one process"
        )


def serve(settings: Settings, host: str, port: int, workers: int) -> int:
    """``aftercare serve``: all-in-one (takes the scheduler lock first) or web workers."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from app.channels.serving import uvicorn_config
    from app.main import build_services, create_app

    try:
        check_serve(settings, workers)
    except RoleConfigError as exc:
        print(f"aftercare serve: {exc}", file=sys.stderr)
        return EXIT_FATAL
    if settings.role == "web":
        _note_missing_worker(settings)
        config = uvicorn_config(WEB_APP, settings, host, port, workers=workers)
        _banner(host, port, f"{workers} web worker(s)")
        if workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.Server(config).run()
        return EXIT_OK
    services = build_services(settings)
    assert services.scheduler_lock is not None
    try:
        services.scheduler_lock.acquire()
    except SchedulerLockedError as exc:
        print(f"aftercare serve: {exc}", file=sys.stderr)
        return EXIT_FATAL
    _banner(host, port, "serving and scheduling")
    try:
        uvicorn.Server(uvicorn_config(create_app(settings, services), settings, host, port)).run()
    finally:
        if services.scheduler_lock.held:  # a server that never started its lifespan
            services.scheduler_lock.release()
    return EXIT_OK


def worker(settings: Settings) -> int:
    """``aftercare worker``: ingest, then run the deployment's one scheduler until stopped."""
    settings = settings.model_copy(update={"role": "worker"})
    return asyncio.run(_work(settings))


async def _work(settings: Settings) -> int:
    from app.main import build_services
    from app.operations.logs import configure_logging

    configure_logging(settings.log_level)
    services = build_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await services.start(ingest=True, background_jobs=True)
    except SchedulerLockedError as exc:
        print(f"aftercare worker: {exc}", file=sys.stderr)
        await services.stop()
        return EXIT_FATAL
    except Exception as exc:  # e.g. the Chroma server unreachable: say so, free the lock
        print(f"aftercare worker: cannot start: {exc}", file=sys.stderr)
        await services.stop()
        return EXIT_FATAL
    lock = services.scheduler_lock
    assert lock is not None
    print(f"Aftercare worker is scheduling (pid {lock.pid} on {lock.host})", flush=True)
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(services.lock_lost.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    lost = services.lock_lost.is_set()
    await services.stop()
    return EXIT_FATAL if lost else EXIT_OK


def worker_status(settings: Settings) -> dict[str, Any] | None:
    """The scheduler lock's holder as JSON-ready values, or None when nobody holds it."""
    from sqlalchemy import inspect

    from app.operations.scheduler_lock import SchedulerLockRow
    from escalation.database import make_engine, make_sessionmaker

    engine = make_engine(settings.resolved_database_url)
    try:
        if not inspect(engine).has_table(SchedulerLockRow.__tablename__):
            return None  # a database no scheduler ever ran on
        holder = SchedulerLock(make_sessionmaker(engine), settings.scheduler_lock_stale_s).holder()
    finally:
        engine.dispose()
    if holder is None:
        return None
    return {
        "host": holder.host,
        "pid": holder.pid,
        "acquired_at": holder.acquired_at.isoformat(),
        "heartbeat_at": holder.heartbeat_at.isoformat(),
        "stale": holder.stale,
    }


def print_worker_status(settings: Settings) -> int:
    """``aftercare worker --status``: exit 0 when a live worker holds the lock, else 3."""
    status = worker_status(settings)
    print(json.dumps({"scheduler": status}))
    return EXIT_OK if status is not None and not status["stale"] else EXIT_NO_WORKER


def _note_missing_worker(settings: Settings) -> None:
    status = worker_status(settings)
    if status is None or status["stale"]:
        print(
            "aftercare serve: no worker holds the scheduler lock yet; alerts wait in the "
            "outbox until `aftercare worker` runs",
            file=sys.stderr,
        )


def _banner(host: str, port: int, what: str) -> None:
    print(
        f"Aftercare is starting on http://{host}:{port}/ (patient page), "
        f"http://{host}:{port}/coordinator (care coordinators): {what}",
        flush=True,
    )

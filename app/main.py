"""The composition root: ``build_services`` builds the object graph, ``create_app`` serves it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from app.composers.base import AnswerComposer
from app.composers.extractive import ExtractiveComposer
from app.errors_http import install_error_handlers
from app.metrics import Metrics
from app.people import People
from app.services import Services
from app.settings import Settings
from escalation.clinic import load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker

log = logging.getLogger("aftercare")


def utc_now() -> datetime:
    return datetime.now(UTC)


def choose_composer(services: Services) -> AnswerComposer:
    """Extractive unless an OpenAI-compatible endpoint is configured."""
    return ExtractiveComposer()


def build_services(
    settings: Settings,
    load_model: bool = False,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clinic = load_clinic_config(settings.clinic_config)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    import app.records  # noqa: F401  (registers the app's tables)

    client = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    escalations, started, stopping, extras = build_escalation(settings, clinic, sessions, client, clock)
    create_tables(engine)
    services = Services(
        settings=settings,
        clinic=clinic,
        engine=engine,
        sessions=sessions,
        people=People(sessions, clock),
        escalations=escalations,
        metrics=Metrics(),
        clock=clock,
        http=client,
        make_composer=choose_composer,
        extras=extras,
        started=started,
        stopping=stopping,
    )
    if load_model:
        services.load()
    return services


def build_escalation(settings, clinic, sessions, client, clock):  # type: ignore[no-untyped-def]
    raise NotImplementedError


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    built = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(_warm_up(built))
        app.state.loading = loading
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
            await built.stop()

    app = FastAPI(
        title="Aftercare",
        description="Answers for men recovering from radical prostatectomy, from documents "
        "their clinic approved; hands over to people when unsure.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = built
    install_error_handlers(app)
    from app.routers import ask, health

    app.include_router(health.router)
    app.include_router(ask.router)
    return app


async def _warm_up(services: Services) -> None:
    try:
        await services.start(ingest=True)
        log.info("ready")
    except Exception:
        log.exception("the assistant failed to load; /readyz stays 503")
        raise

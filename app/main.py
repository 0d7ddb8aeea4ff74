"""The composition root: ``build_services`` builds the object graph, ``create_app`` serves it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.avatars import AvatarHub
from app.caller_id import CallerDesk
from app.composers.base import AnswerComposer
from app.composers.extractive import ExtractiveComposer
from app.composers.generated import build_composer
from app.errors_http import install_error_handlers
from app.log_redaction import install_query_key_redaction
from app.metrics import Metrics
from app.people import People
from app.platform_replies import CallSequence, ReplyBook
from app.services import Services
from app.settings import Settings
from app.turn_log import TurnLog
from avatar_bridge.keepalive import KeepAlive
from avatar_bridge.providers.factory import build_provider
from escalation.clinic import ClinicConfig, load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import ClinicConfigError
from escalation.fhir import FhirScheduler
from escalation.jobs import make_scheduler
from escalation.outbox import build_alerts
from escalation.records import EscalationRepository
from escalation.scheduling import BuiltinScheduler, Scheduler
from escalation.service import EscalationService

log = logging.getLogger("aftercare")


def utc_now() -> datetime:
    return datetime.now(UTC)


def choose_composer(services: Services) -> AnswerComposer:
    """Extractive unless an OpenAI-compatible endpoint is configured."""
    assert services.embedder is not None
    return build_composer(
        services.settings,
        services.embedder,
        ExtractiveComposer(),
        lambda reason: services.metrics.composer_fallbacks.labels(reason).inc(),
    )


def build_services(
    settings: Settings,
    load_model: bool = False,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
) -> Services:
    """Everything one deployment needs, built once, nothing started."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clinic = load_clinic_config(settings.clinic_config)
    database_url = settings.resolved_database_url
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    import app.records  # noqa: F401  (registers the app's tables on the shared metadata)

    create_tables(engine)
    client = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    metrics = Metrics()
    jobs = make_scheduler(database_url)
    repository = EscalationRepository(sessions, clock)
    scheduler = build_scheduler(settings, clinic, sessions, client, clock)
    service_box: list[EscalationService] = []

    async def on_alert_failed(escalation_id: str, reason: str) -> None:
        await service_box[0].mark_attention(escalation_id, reason)

    alerts = build_alerts(settings.escalation, client, jobs, sessions, on_alert_failed, clock)
    escalations = EscalationService(
        repository, scheduler, alerts, clock, horizon_days=clinic.care_team.booking_horizon_days
    )
    service_box.append(escalations)
    avatars = AvatarHub(build_provider(settings.avatar, client), metrics)
    avatars.keepalive = KeepAlive(
        jobs,
        avatars.provider,
        avatars.dropped,
        max_failures=settings.avatar.keepalive_max_failures,
    )
    people = People(sessions, clock)
    services = Services(
        settings=settings,
        clinic=clinic,
        engine=engine,
        sessions=sessions,
        people=people,
        turns=TurnLog(sessions, clock),
        escalations=escalations,
        metrics=metrics,
        clock=clock,
        http=client,
        make_composer=choose_composer,
        jobs=jobs,
        alerts=alerts,
        avatars=avatars,
        replies=ReplyBook(settings.platform_reply_ttl_s),
        calls=CallSequence(settings.platform_settle_s),
        callers=CallerDesk(
            people,
            clock,
            clinic.country,
            clinic.date_order,
            settings.caller_id_max_failures,
            settings.caller_id_lock_s,
        ),
    )
    if load_model:
        services.load()
    return services


def build_scheduler(
    settings: Settings,
    clinic: ClinicConfig,
    sessions: sessionmaker[Session],
    client: httpx.AsyncClient,
    clock: Callable[[], datetime],
) -> Scheduler:
    """The appointment book: the built-in one, or the clinic's FHIR R4 server."""
    section = settings.escalation
    match section.scheduler:
        case "fhir":
            if not section.fhir_base_url or not section.fhir_schedule_ids:
                raise ClinicConfigError(
                    "the FHIR scheduler needs AFTERCARE_ESCALATION__FHIR_BASE_URL and "
                    "AFTERCARE_ESCALATION__FHIR_SCHEDULE_IDS"
                )
            return FhirScheduler(
                client,
                section.fhir_base_url,
                section.fhir_schedule_ids,
                clinic.care_team,
                clock,
                token=section.fhir_token,
                timeout_s=section.fhir_timeout_s,
            )
        case _:
            return BuiltinScheduler(sessions, clinic.care_team, clock)


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
    from app.routers import (
        ask,
        avatar,
        chat,
        clinic,
        escalations,
        health,
        pages,
        patients,
        retell,
        voice,
    )

    install_query_key_redaction()
    routers = (health, ask, clinic, chat, retell, voice, avatar, escalations, patients, pages)
    for module in routers:
        app.include_router(module.router)
    return app


async def _warm_up(services: Services) -> None:
    try:
        await services.start(ingest=True, background_jobs=True)
        log.info("ready")
    except Exception:
        log.exception("the assistant failed to load; /readyz stays 503")
        raise

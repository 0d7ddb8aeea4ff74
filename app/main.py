"""The composition root: ``build_services`` builds the object graph, ``create_app`` serves it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.channels.avatars import AvatarHub
from app.channels.connections import SocketCaps
from app.channels.errors_http import install_error_handlers
from app.channels.middleware import BodyLimit, RequestContext
from app.channels.platforms.caller_id import CallerDesk
from app.channels.platforms.reply_book import CallSequence, ReplyBook
from app.channels.ratelimits import RateLimits
from app.conversation.composers.base import AnswerComposer
from app.conversation.composers.extractive import ExtractiveComposer
from app.conversation.composers.generated import build_composer
from app.conversation.follow_ups import FollowUpTexts
from app.conversation.turn_log import TurnLog
from app.conversation.turn_marks import TurnMarks
from app.loaded import AssistantMaker, LoadedParts
from app.operations.logs import configure_logging
from app.operations.metrics import Metrics
from app.operations.scheduler_lock import SchedulerLock
from app.operations.service_levels import ServiceLevels
from app.operations.tracing import Tracing
from app.people.desk import open_people, utc_now
from app.services import Services
from app.settings import Settings
from app.workspace.documents import DocumentDesk
from app.workspace.drafts import DraftStore
from app.workspace.gaps import GapsReport
from app.workspace.preview import PreviewDesk
from app.workspace.review_digest import ReviewReminders, digest_channels
from avatar_bridge.keepalive import KeepAlive
from avatar_bridge.providers.factory import build_provider
from escalation.bursts import AlertBursts
from escalation.clinic import ClinicConfig
from escalation.errors import ClinicConfigError, UnknownEscalationError
from escalation.fhir import FhirScheduler
from escalation.jobs import make_scheduler
from escalation.outbox import build_alerts
from escalation.records import EscalationRepository
from escalation.scheduling import BuiltinScheduler, Scheduler
from escalation.service import CALLBACK_REASON, EscalationService
from escalation.sms import build_texts
from escalation.spool import EscalationSpool
from ingestion.embedding import Embedder
from ingestion.index import IngestReport

log = logging.getLogger("aftercare")
MULTIPART_OVERHEAD = 64 * 1024


def composer_factory(
    settings: Settings, metrics: Metrics, tracing: Tracing
) -> Callable[[Embedder], AnswerComposer]:
    """Extractive unless an OpenAI-compatible endpoint is configured; made once the
    embedding model is loaded (the grounding check needs it)."""

    def choose(embedder: Embedder) -> AnswerComposer:
        return build_composer(
            settings,
            embedder,
            ExtractiveComposer(),
            lambda reason: metrics.composer_fallbacks.labels(reason).inc(),
            http_client=tracing.llm_client(),
        )

    return choose


def build_services(
    settings: Settings,
    load_model: bool = False,
    clock: Callable[[], datetime] = utc_now,
    http: httpx.AsyncClient | None = None,
) -> Services:
    """Everything one deployment needs, built once, nothing started."""
    records = open_people(settings, clock)
    clinic, engine, sessions, people = (
        records.clinic,
        records.engine,
        records.sessions,
        records.people,
    )
    database_url = settings.resolved_database_url
    tracing = Tracing.from_settings(settings)
    tracing.instrument_engine(engine)
    client = tracing.instrument_client(http or httpx.AsyncClient(timeout=httpx.Timeout(10.0)))
    metrics = Metrics()
    web_only = settings.role == "web"  # the deployment's worker process runs the scheduler
    jobs = make_scheduler(None if web_only else database_url)
    repository = EscalationRepository(sessions, clock, audit=people)
    scheduler = build_scheduler(settings, clinic, sessions, client, clock)

    async def on_alert_failed(escalation_id: str, reason: str) -> None:
        # Straight to the records: flagging sends no alert, so it needs no service.
        await asyncio.to_thread(repository.mark_attention, escalation_id, reason)

    alerts = build_alerts(settings.escalation, client, jobs, sessions, on_alert_failed, clock)
    alerts.arm_timers = not web_only
    bursts = AlertBursts(alerts, clock, window_s=settings.escalation.alert_burst_window_s)
    escalations = EscalationService(
        repository,
        scheduler,
        bursts,
        clock,
        horizon_days=clinic.care_team.booking_horizon_days,
        spool=EscalationSpool(settings.data_dir / "spool"),
    )
    metrics.registry.register(ServiceLevels(sessions, escalations.booking_reasons, clock))
    text_outbox = build_texts(settings.escalation, client, jobs, sessions, on_alert_failed, clock)
    if text_outbox is not None:
        text_outbox.arm_timers = not web_only
    avatars = AvatarHub(build_provider(settings.avatar, client), metrics)
    avatars.keepalive = KeepAlive(
        jobs,
        avatars.provider,
        avatars.dropped,
        max_failures=settings.avatar.keepalive_max_failures,
    )
    turns = TurnLog(sessions, clock)
    marks = TurnMarks(sessions, clock)
    parts = LoadedParts(settings, clinic)
    maker = AssistantMaker(parts, composer_factory(settings, metrics, tracing), clock, tracing)

    def ingest_approved() -> IngestReport:
        # An approval or retirement re-ingests the corpus and records what the index holds.
        report = parts.ingest(settings.corpus_dir, live=desk.live)
        desk.record_ingest(report)
        return report

    desk = DocumentDesk(
        corpus_dir=settings.corpus_dir,
        settings=settings.workspace,
        drafts=DraftStore(settings.drafts_path),
        sessions=sessions,
        people=people,
        turns=turns,
        placeholders=clinic.placeholders,
        ingest=ingest_approved,
        indexed_chunks=parts.chunk_counts,
        indexed_sections=parts.indexed_sections,
        clock=clock,
    )
    reminders = ReviewReminders(
        desk=desk,
        settings=settings.workspace,
        channels=digest_channels(settings.workspace, settings.escalation, client),
        sessions=sessions,
        scheduler=jobs,
        clock=clock,
        link=settings.escalation.public_base_url.rstrip("/") + "/clinician",
    )
    services = Services(
        settings=settings,
        clinic=clinic,
        engine=engine,
        sessions=sessions,
        people=people,
        turns=turns,
        escalations=escalations,
        metrics=metrics,
        clock=clock,
        http=client,
        parts=parts,
        maker=maker,
        jobs=jobs,
        alerts=alerts,
        alert_bursts=bursts,
        limits=rate_limits(settings),
        sockets=SocketCaps(
            settings.security.max_sockets_per_address, settings.security.max_sockets_per_patient
        ),
        avatars=avatars,
        marks=marks,
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
        desk=desk,
        gaps=GapsReport(
            turns=turns,
            marks=marks,
            embedder=parts.loaded_embedder,
            search=parts.loaded_search,
            booked=lambda escalation_id: _booked(escalations, escalation_id),
            distance=settings.workspace.gap_distance,
        ),
        reminders=reminders,
        previews=PreviewDesk(
            root=settings.data_dir / "preview",
            desk=desk,
            ingestion=settings.ingestion,
            embedder=parts.loaded_embedder,
            live=parts.loaded_collections,
            live_search=parts.loaded_search,
            make_assistant=lambda search, escalations: maker.over(search, escalations, None),
            clinic=clinic,
            clock=clock,
        ),
        texts=FollowUpTexts(text_outbox, people, clinic) if text_outbox is not None else None,
        tracing=tracing,
    )
    services.reminders.outbox.arm_timers = not web_only
    alerts.not_events = frozenset(services.reminders.outbox.events or ())
    if not web_only:
        services.scheduler_lock = SchedulerLock(sessions, settings.scheduler_lock_stale_s)
    if load_model:
        services.load()
    return services


def rate_limits(settings: Settings) -> RateLimits:
    section = settings.security
    return RateLimits(
        {
            "ask": section.rate_ask,
            "chat": section.rate_chat,
            "voice": section.rate_voice,
            "avatar": section.rate_avatar,
            "auth_failures": section.rate_auth_failures,
        }
    )


T = TypeVar("T")


async def _booked(escalations: EscalationService, escalation_id: str) -> bool:
    """Whether the escalation costs a nurse's call: a booked one, or an unidentified
    caller's callback request (never booked, but a nurse still rings back)."""
    try:
        escalation = await escalations.get(escalation_id)
    except UnknownEscalationError:
        return False
    return escalation.appointment is not None or escalation.attention_reason == CALLBACK_REASON


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
        if settings.role == "web":
            # Web workers share one listening socket: one still loading would take requests
            # only to answer 503, so it accepts connections once it is ready.
            await loading
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
            await built.stop()

    configure_logging(settings.log_level)
    docs = settings.security.expose_docs
    app = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="Aftercare",
        description="Answers for men recovering from radical prostatectomy, from documents "
        "their clinic approved; hands over to people when unsure.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = built
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.security.max_body_bytes,
        # Uploads may be larger; the document route answers its own limit in words.
        larger={"/v1/documents": settings.workspace.max_upload_bytes + MULTIPART_OVERHEAD},
    )
    app.add_middleware(RequestContext)
    built.metrics.instrument(app)
    built.tracing.instrument_app(app)
    from app.channels.routers import (
        ask,
        avatar,
        chat,
        clinic,
        documents,
        escalations,
        health,
        pages,
        patients,
        retell,
        reviews,
        staff,
        voice,
    )

    for module in (
        health,
        ask,
        clinic,
        chat,
        retell,
        voice,
        avatar,
        escalations,
        patients,
        documents,
        reviews,
        staff,
        pages,
    ):
        app.include_router(module.router)
    return app


async def _warm_up(services: Services) -> None:
    # A web worker neither ingests nor schedules: the deployment's worker process does both.
    scheduling = services.settings.role != "web"
    try:
        await services.start(ingest=scheduling, background_jobs=scheduling)
        log.info("ready")
    except Exception:
        log.exception("the assistant failed to load; /readyz stays 503")
        raise

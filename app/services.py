"""The object graph of one deployment, as built by ``app.main.build_services``.

Cheap parts are built at once; the embedding model and the index load in ``load``
(seconds), so a server can answer /healthz while they do.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.channels.avatars import AvatarHub
from app.channels.connections import SocketCaps
from app.channels.platforms.caller_id import CallerDesk
from app.channels.platforms.reply_book import CallSequence, ReplyBook
from app.channels.ratelimits import RateLimits
from app.conversation.assistant import Assistant
from app.conversation.composers.base import Message
from app.conversation.follow_ups import FollowUpTexts
from app.conversation.front_door import Caller, FrontDoor
from app.conversation.turn import TurnContext, TurnResult
from app.conversation.turn_log import TurnLog
from app.conversation.turn_marks import TurnMarks
from app.loaded import AssistantMaker, LoadedParts
from app.operations.metrics import Metrics
from app.operations.scheduler_lock import SchedulerLock, SchedulerLockLostError
from app.operations.tracing import Tracing
from app.people.directory import Patient, People
from app.settings import Settings
from app.workspace.documents import DocumentDesk
from app.workspace.gaps import GapsReport
from app.workspace.preview import PreviewDesk
from app.workspace.review_digest import ReviewReminders
from escalation.bursts import AlertBursts
from escalation.clinic import ClinicConfig
from escalation.danger_meaning import MeaningThresholds
from escalation.jobs import MEMORY_STORE
from escalation.outbox import AlertOutbox
from escalation.policy import PolicyWeights
from escalation.service import EscalationService, Recovery
from ingestion.embedding import Embedder
from ingestion.index import IngestReport, Progress
from ingestion.search import CorpusSearch
from ingestion.store import ChromaCollections

log = logging.getLogger("aftercare")
T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    clinic: ClinicConfig
    engine: Engine
    sessions: sessionmaker[Session]
    people: People
    turns: TurnLog
    escalations: EscalationService
    metrics: Metrics
    clock: Callable[[], datetime]
    http: httpx.AsyncClient
    parts: LoadedParts
    maker: AssistantMaker
    jobs: AsyncIOScheduler
    alerts: AlertOutbox
    avatars: AvatarHub
    marks: TurnMarks
    replies: ReplyBook
    calls: CallSequence
    callers: CallerDesk
    desk: DocumentDesk
    gaps: GapsReport
    reminders: ReviewReminders
    previews: PreviewDesk
    limits: RateLimits = field(default_factory=lambda: RateLimits({}))
    sockets: SocketCaps = field(default_factory=lambda: SocketCaps(20, 3))
    alert_bursts: AlertBursts | None = None
    texts: FollowUpTexts | None = None
    tracing: Tracing = field(default_factory=Tracing.off)
    scheduler_lock: SchedulerLock | None = None
    lock_lost: asyncio.Event = field(default_factory=asyncio.Event)
    _background: bool = False

    @functools.cached_property
    def door(self) -> FrontDoor:
        """Every channel's way into a turn."""
        return FrontDoor(
            self.settings.max_question_chars,
            self.people,
            self.limits,
            self.metrics,
            self.parts,
        )

    @property
    def ready(self) -> bool:
        return self.parts.ready

    # The late parts, read and (in tests, preloaded) set where they live.
    @property
    def embedder(self) -> Embedder | None:
        return self.parts.embedder

    @embedder.setter
    def embedder(self, value: Embedder | None) -> None:
        self.parts.embedder = value

    @property
    def collections(self) -> ChromaCollections | None:
        return self.parts.collections

    @property
    def search(self) -> CorpusSearch | None:
        return self.parts.search

    @property
    def assistant(self) -> Assistant | None:
        return self.parts.assistant

    def load(self) -> None:
        """Load the embedding model and open the index (blocking; seconds)."""
        self.parts.load()

    def ingest(
        self, corpus_dir: Path | None = None, progress: Progress | None = None
    ) -> IngestReport:
        report = self.parts.ingest(
            corpus_dir or self.settings.corpus_dir, progress, live=self.desk.live
        )
        if corpus_dir in (None, self.settings.corpus_dir):
            self.desk.record_ingest(report)
        return report

    def activate(self) -> None:
        """Build the assistant once the index is loaded."""
        search = self.parts.loaded_search()
        search.refresh()
        self.parts.assistant = self.maker.over(search, self.escalations, self.turns)

    def apply_policy(self, calibration: dict[str, Any]) -> None:
        """Use freshly fitted weights and threshold (``aftercare eval --calibrate``)."""
        self.maker.policy = (
            float(calibration["threshold"]),
            PolicyWeights(**calibration["weights"]),
        )
        if "meaning" in calibration:
            self.maker.meaning = MeaningThresholds(**calibration["meaning"])
        self.activate()

    async def start(
        self, ingest_if_empty: bool = False, ingest: bool = False, background_jobs: bool = False
    ) -> None:
        """Load (in a thread), ingest when asked or when the index is empty, then serve.

        ``background_jobs`` starts the deployment's scheduler: coordinator alert delivery and
        retries, avatar keep-alives and periodic re-ingestion. Only the serving process
        runs it; one-shot commands leave alerts queued for it. It first takes the
        deployment's scheduler lock (``SchedulerLockedError`` when another process holds it).
        A web worker (``role = "web"``) runs only its own session timers and index refresh.
        """
        if background_jobs and self.scheduler_lock is not None:
            await asyncio.to_thread(self.scheduler_lock.acquire)
        await asyncio.to_thread(self.load)
        assert self.collections is not None
        if ingest or (ingest_if_empty and self.collections.chunks.count() == 0):
            report = await asyncio.to_thread(self.ingest)
            log.info("ingest: %s", report.counts)
        web_only = not background_jobs and self.settings.role == "web"
        if web_only:
            await self._wait_for_index()
        self.activate()
        if web_only:
            self._start_web_timers()
        if background_jobs:
            self.jobs.start()
            await self.alerts.start()
            if self.texts is not None:
                await self.texts.outbox.start()
            self._watch_shared_work()
            interval = self.settings.ingestion.reingest_interval_s
            if interval > 0:
                self.jobs.add_job(
                    self._reingest,
                    "interval",
                    seconds=interval,
                    id="reingest",
                    jobstore=MEMORY_STORE,
                    replace_existing=True,
                )
            # Retention: daily, and once shortly after start.
            self.jobs.add_job(
                self._retain,
                "interval",
                hours=24,
                next_run_time=self.clock() + timedelta(minutes=1),
                id="retention",
                jobstore=MEMORY_STORE,
                replace_existing=True,
            )
            # Escalations a crash interrupted: finished at once, then checked periodically.
            self.jobs.add_job(
                self.recover,
                "interval",
                seconds=self.settings.escalation.recovery_interval_s,
                next_run_time=self.clock(),
                id="recovery",
                jobstore=MEMORY_STORE,
                replace_existing=True,
            )
            await self.reminders.start()
            self._background = True

    async def recover(self) -> Recovery:
        """Finish escalations interrupted by a crash (older than the grace period)."""
        grace = timedelta(seconds=self.settings.escalation.recovery_grace_s)
        return await self.escalations.recover(self.clock() - grace)

    async def _wait_for_index(self) -> None:
        """A web worker serves once the worker process has ingested something."""
        assert self.collections is not None
        chunks = self.collections.chunks
        for waited in itertools.count():
            if await asyncio.to_thread(chunks.count) > 0:
                return
            if waited % 30 == 0:
                log.info("waiting for the worker process to ingest the corpus")
            await asyncio.sleep(1.0)  # another process fills the store

    def _start_web_timers(self) -> None:
        """A web worker's own timers: its avatar sessions' keep-alives (in ``jobs``, memory
        store only) and re-reading the index the worker process ingests into."""
        self.jobs.start()
        self.jobs.add_job(
            self._refresh_index,
            "interval",
            seconds=self.settings.index_refresh_s,
            id="index-refresh",
            jobstore=MEMORY_STORE,
            replace_existing=True,
        )
        self._background = True

    async def _refresh_index(self) -> None:
        if self.search is not None:
            await asyncio.to_thread(self.search.refresh)

    def _watch_shared_work(self) -> None:
        """The scheduler's own duties: heartbeat its lock, and deliver alerts that web
        workers queued (they write outbox rows but arm no timers)."""
        # These run every few seconds: their "running job" lines would drown the log.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        lock = self.scheduler_lock
        if lock is not None and lock.held:
            self.jobs.add_job(
                self._beat,
                "interval",
                seconds=lock.beat_interval_s,
                id="scheduler-heartbeat",
                jobstore=MEMORY_STORE,
                replace_existing=True,
            )
        self.jobs.add_job(
            self._adopt_alerts,
            "interval",
            seconds=self.settings.outbox_poll_s,
            id="outbox-adopt",
            jobstore=MEMORY_STORE,
            replace_existing=True,
        )

    async def _beat(self) -> None:
        assert self.scheduler_lock is not None
        try:
            await asyncio.to_thread(self.scheduler_lock.beat)
        except SchedulerLockLostError as exc:
            log.error("%s", exc)
            self.jobs.pause()
            self.lock_lost.set()

    async def _adopt_alerts(self) -> None:
        adopted = await self.alerts.adopt_pending()
        adopted += await self.reminders.outbox.adopt_pending()
        if self.texts is not None:
            adopted += await self.texts.outbox.adopt_pending()
        if adopted:
            log.info("delivering %d alerts queued by web workers", adopted)

    async def _retain(self) -> None:
        from app.people.governance import apply_retention

        await apply_retention(self)

    async def _reingest(self) -> None:
        report = await asyncio.to_thread(self.ingest)
        if report.changed or report.counts["failed"]:
            log.info("re-ingest: %s", report.counts)

    async def stop(self) -> None:
        await self.replies.drain()
        if self.assistant is not None:
            await self.assistant.drain()
        await self.avatars.close_all()
        if self.alert_bursts is not None:
            self.alert_bursts.flush()
        if self.texts is not None:
            await self.texts.drain()
        if self._background:
            await self.alerts.stop()
            if self.texts is not None:
                await self.texts.outbox.stop()
            await self.reminders.stop()
            self.jobs.shutdown(wait=False)
            self._background = False
        if self.scheduler_lock is not None and self.scheduler_lock.held:
            await asyncio.to_thread(self.scheduler_lock.release)
        await self.http.aclose()
        if self.assistant is not None:
            await self.assistant.close()
        await self.previews.close()
        if self.search is not None:
            self.search.close()
        self.tracing.shutdown()  # sends the spans still batched

    def turn_context(
        self,
        patient_id: str | None,
        history: tuple[Message, ...] = (),
        *,
        channel: str = "api",
        conversation_id: str | None = None,
    ) -> TurnContext:
        """Who is asking: his recovery stage reaches the composer, never the logs."""
        stage = None
        patient = None
        if patient_id is not None:
            patient = self.people.patient(patient_id)
            stage = patient.recovery_stage(self.clock().date())
        return TurnContext(
            patient_id=patient_id,
            history=history,
            patient_context=stage,
            channel=channel,
            conversation_id=conversation_id,
            follow_up=self.texts.for_patient(patient) if self.texts is not None else None,
        )

    async def ask_cli(self, question: str, patient_id: str | None) -> TurnResult:
        """A trusted local caller (the CLI): the patient must exist."""
        if patient_id is not None:
            self.people.patient(patient_id)
        return await self._ask(question, patient_id, actor="cli", channel="cli")

    async def ask_patient(
        self,
        question: str,
        patient_id: str | None,
        key: str | None,
        channel: str,
        source: str | None = None,
    ) -> TurnResult:
        """A caller over the network: a named patient must present that patient's key."""
        if patient_id is not None:
            await self.identify(patient_id, key, source)
        actor = f"patient:{patient_id}" if patient_id is not None else "anonymous"
        return await self._ask(question, patient_id, actor=actor, channel=channel, source=source)

    async def identify(self, patient_id: str, key: str | None, source: str | None) -> Patient:
        return await self.door.admit(patient_id, key, source)

    async def _ask(
        self,
        question: str,
        patient_id: str | None,
        actor: str,
        channel: str,
        source: str | None = None,
    ) -> TurnResult:
        self.door.check_question(question)
        context = await asyncio.to_thread(
            functools.partial(self.turn_context, patient_id, channel=channel)
        )
        return await self.door.ask(question, context, Caller(actor, source))

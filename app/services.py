"""The object graph of one deployment, as built by ``app.main.build_services``.

Cheap parts are built at once; the embedding model and the index load in ``load``
(seconds), so a server can answer /healthz while they do.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.assistant import Assistant, TurnContext
from app.avatars import AvatarHub
from app.caller_id import CallerDesk
from app.composers.base import AnswerComposer, Message
from app.connections import SocketCaps
from app.documents import DocumentDesk
from app.errors import InvalidQuestionError, NotAuthenticatedError
from app.gaps import GapsReport
from app.metrics import Metrics
from app.people import Patient, People
from app.platform_replies import CallSequence, ReplyBook
from app.preview import PreviewDesk
from app.ratelimits import RateLimits
from app.review_digest import ReviewReminders
from app.scheduler_lock import SchedulerLock, SchedulerLockLostError
from app.settings import Settings
from app.turn import TurnResult
from app.turn_log import TurnLog
from app.turn_marks import TurnMarks
from escalation.bursts import AlertBursts
from escalation.clinic import ClinicConfig
from escalation.danger_meaning import MeaningDetector, MeaningThresholds, load_phrasings
from escalation.jobs import MEMORY_STORE
from escalation.outbox import AlertOutbox
from escalation.policy import PolicyWeights
from escalation.service import EscalationService
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer, IngestReport, Progress
from ingestion.search import CorpusSearch
from ingestion.store import ChromaCollections, open_collections

log = logging.getLogger("aftercare")


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
    make_composer: Callable[[Services], AnswerComposer]
    jobs: AsyncIOScheduler
    alerts: AlertOutbox
    avatars: AvatarHub
    marks: TurnMarks
    replies: ReplyBook
    calls: CallSequence
    callers: CallerDesk
    limits: RateLimits = field(default_factory=lambda: RateLimits({}))
    sockets: SocketCaps = field(default_factory=lambda: SocketCaps(20, 3))
    alert_bursts: AlertBursts | None = None
    desk: DocumentDesk | None = None
    gaps: GapsReport | None = None
    reminders: ReviewReminders | None = None
    previews: PreviewDesk | None = None
    embedder: Embedder | None = None
    collections: ChromaCollections | None = None
    search: CorpusSearch | None = None
    indexer: CorpusIndexer | None = None
    assistant: Assistant | None = None
    detector: MeaningDetector | None = None
    meaning: MeaningThresholds | None = None
    policy: tuple[float, PolicyWeights] | None = None
    scheduler_lock: SchedulerLock | None = None
    lock_lost: asyncio.Event = field(default_factory=asyncio.Event)
    _background: bool = False
    _ingesting: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ready(self) -> bool:
        return self.assistant is not None

    def load(self) -> None:
        """Load the embedding model and open the index (blocking; seconds)."""
        if self.embedder is None:
            self.embedder = Embedder(batch_size=self.settings.ingestion.embed_batch_size)
        if self.collections is None:
            self.collections = open_collections(self.settings.ingestion, self.settings.chroma_path)
        self.indexer = CorpusIndexer(
            self.collections, self.embedder, self.settings.ingestion.chunk_max_tokens
        )
        if self.search is None:
            self.search = CorpusSearch(
                self.collections, self.embedder, self.settings.ingestion.top_k
            )
        if self.detector is None:
            phrasings = load_phrasings().merged(
                self.clinic.danger_phrasings, self.clinic.danger_look_alikes
            )
            self.detector = MeaningDetector(self.search.embed, phrasings)

    def ingest(
        self, corpus_dir: Path | None = None, progress: Progress | None = None
    ) -> IngestReport:
        if self.indexer is None or self.search is None:
            self.load()
        assert self.indexer is not None and self.search is not None
        live = self.desk.live if self.desk is not None else None
        with self._ingesting:  # the periodic job and an approval never interleave
            report = self.indexer.ingest(
                corpus_dir or self.settings.corpus_dir,
                self.clinic.placeholders(),
                progress,
                live=live,
            )
            self.search.refresh()
        if self.desk is not None and corpus_dir in (None, self.settings.corpus_dir):
            self.desk.record_ingest(report)
        return report

    def activate(self) -> None:
        """Build the assistant once the index is loaded."""
        assert self.search is not None
        self.search.refresh()
        self.assistant = self.build_assistant()

    def apply_policy(self, calibration: dict[str, Any]) -> None:
        """Use freshly fitted weights and threshold (``aftercare eval --calibrate``)."""
        self.policy = (float(calibration["threshold"]), PolicyWeights(**calibration["weights"]))
        if "meaning" in calibration:
            self.meaning = MeaningThresholds(**calibration["meaning"])
        self.assistant = self.build_assistant()

    def build_assistant(self) -> Assistant:
        assert self.search is not None
        return self.assistant_over(self.search, self.escalations, self.turns)

    def assistant_over(
        self, search: CorpusSearch, escalations: EscalationService, turn_log: TurnLog | None
    ) -> Assistant:
        """The assistant as configured, over any index (previews use scratch ones)."""
        threshold, weights = self.policy or (
            self.settings.escalation.confidence_threshold,
            PolicyWeights(),
        )
        return Assistant(
            search=search,
            composer=self.make_composer(self),
            escalations=escalations,
            clinic=self.clinic,
            threshold=threshold,
            weights=weights,
            clock=self.clock,
            turn_log=turn_log,
            detector=self.detector,
            meaning_thresholds=self.meaning,
        )

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
            if self.reminders is not None:
                await self.reminders.start()
            self._background = True

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
        if self.reminders is not None:
            adopted += await self.reminders.outbox.adopt_pending()
        if adopted:
            log.info("delivering %d alerts queued by web workers", adopted)

    async def _retain(self) -> None:
        from app.governance import apply_retention

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
        if self._background:
            await self.alerts.stop()
            if self.reminders is not None:
                await self.reminders.stop()
            self.jobs.shutdown(wait=False)
            self._background = False
        if self.scheduler_lock is not None and self.scheduler_lock.held:
            await asyncio.to_thread(self.scheduler_lock.release)
        await self.http.aclose()
        if self.assistant is not None:
            await self.assistant.close()
        if self.previews is not None:
            await self.previews.close()
        if self.search is not None:
            self.search.close()

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
        if patient_id is not None:
            stage = self.people.patient(patient_id).recovery_stage(self.clock().date())
        return TurnContext(
            patient_id=patient_id,
            history=history,
            patient_context=stage,
            channel=channel,
            conversation_id=conversation_id,
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
        """The patient if the key (or page session token) is his; failures are counted per
        address, and too many of them get 429 before the key is even looked at."""
        self.limits.refuse_if_over("auth_failures", source)
        try:
            return await asyncio.to_thread(self.people.patient_for_key, patient_id, key, source)
        except NotAuthenticatedError:
            self.limits.hit("auth_failures", source)
            raise

    async def _ask(
        self,
        question: str,
        patient_id: str | None,
        actor: str,
        channel: str,
        source: str | None = None,
    ) -> TurnResult:

        if not question.strip():
            raise InvalidQuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"the question is longer than {self.settings.max_question_chars} characters"
            )
        context = await asyncio.to_thread(
            functools.partial(self.turn_context, patient_id, channel=channel)
        )
        await self.people.audit_async(actor, "ask", "turn", patient_id, channel, source=source)
        assert self.assistant is not None
        result = await self.assistant.ask(question, context)
        self.metrics.observe(result, channel)
        return result

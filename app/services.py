"""The object graph of one deployment, as built by ``app.main.build_services``.

Cheap parts are built at once; the embedding model and the index load in ``load``
(seconds), so a server can answer /healthz while they do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
from app.metrics import Metrics
from app.people import People
from app.platform_replies import CallSequence, ReplyBook
from app.settings import Settings
from app.turn import TurnResult
from app.turn_log import TurnLog
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
    replies: ReplyBook
    calls: CallSequence
    callers: CallerDesk
    embedder: Embedder | None = None
    collections: ChromaCollections | None = None
    search: CorpusSearch | None = None
    indexer: CorpusIndexer | None = None
    assistant: Assistant | None = None
    detector: MeaningDetector | None = None
    meaning: MeaningThresholds | None = None
    policy: tuple[float, PolicyWeights] | None = None
    _background: bool = False

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
        report = self.indexer.ingest(
            corpus_dir or self.settings.corpus_dir, self.clinic.placeholders(), progress
        )
        self.search.refresh()
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
        threshold, weights = self.policy or (
            self.settings.escalation.confidence_threshold,
            PolicyWeights(),
        )
        return Assistant(
            search=self.search,
            composer=self.make_composer(self),
            escalations=self.escalations,
            clinic=self.clinic,
            threshold=threshold,
            weights=weights,
            clock=self.clock,
            turn_log=self.turns,
            detector=self.detector,
            meaning_thresholds=self.meaning,
        )

    async def start(
        self, ingest_if_empty: bool = False, ingest: bool = False, background_jobs: bool = False
    ) -> None:
        """Load (in a thread), ingest when asked or when the index is empty, then serve.

        ``background_jobs`` starts the deployment's scheduler: coordinator alert delivery and
        retries, avatar keep-alives and periodic re-ingestion. Only the serving process
        runs it; one-shot commands leave alerts queued for it.
        """
        await asyncio.to_thread(self.load)
        assert self.collections is not None
        if ingest or (ingest_if_empty and self.collections.chunks.count() == 0):
            report = await asyncio.to_thread(self.ingest)
            log.info("ingest: %s", report.counts)
        self.activate()
        if background_jobs:
            self.jobs.start()
            await self.alerts.start()
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
            self._background = True

    async def _reingest(self) -> None:
        report = await asyncio.to_thread(self.ingest)
        if report.changed or report.counts["failed"]:
            log.info("re-ingest: %s", report.counts)

    async def stop(self) -> None:
        await self.replies.drain()
        if self.assistant is not None:
            await self.assistant.drain()
        await self.avatars.close_all()
        if self._background:
            await self.alerts.stop()
            self.jobs.shutdown(wait=False)
            self._background = False
        await self.http.aclose()
        if self.assistant is not None:
            await self.assistant.close()
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
        self, question: str, patient_id: str | None, key: str | None, channel: str
    ) -> TurnResult:
        """A caller over the network: a named patient must present that patient's key."""
        if patient_id is not None:
            self.people.patient_for_key(patient_id, key)
        return await self._ask(question, patient_id, actor=f"patient:{patient_id}", channel=channel)

    async def _ask(
        self, question: str, patient_id: str | None, actor: str, channel: str
    ) -> TurnResult:
        from app.errors import InvalidQuestionError

        if not question.strip():
            raise InvalidQuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"the question is longer than {self.settings.max_question_chars} characters"
            )
        context = self.turn_context(patient_id, channel=channel)
        if patient_id is not None:
            self.people.audit(actor, "ask", "turn", patient_id, detail=channel)
        assert self.assistant is not None
        result = await self.assistant.ask(question, context)
        self.metrics.observe(result, channel)
        return result

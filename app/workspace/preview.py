"""Previews: ask a question as if a draft were approved, in a scratch index.

The scratch index is a pair of Chroma collections in their own embedded store
(``preview`` in the data directory), never the one patients are answered from. It
starts as a copy of the live index's vectors, so only the draft itself is embedded,
then a scratch corpus folder (the approved files, with the draft in place of its
document) is ingested into it. The same ``Assistant`` answers over it; its
escalations go to a scratch database and no coordinator is ever told.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.conversation.assistant import Assistant
from app.errors import DocumentRejectedError, UnknownDocumentError
from app.workspace.documents import DocumentDesk
from escalation.clinic import ClinicConfig
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.records import EscalationRepository
from escalation.scheduling import BuiltinScheduler
from escalation.service import EscalationService
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer
from ingestion.search import CorpusSearch
from ingestion.settings import IngestionSettings
from ingestion.store import ChromaCollections, open_collections

_KEEP = 2  # scratch indexes kept at once (one per draft revision)
_COPY_BATCH = 2000


class HeldAlerts:
    """Coordinator alerts raised by previews: kept here, never sent."""

    def __init__(self) -> None:
        self.held: list[tuple[str, str]] = []

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        self.held.append((escalation_id, event))


@dataclass
class _Scratch:
    name: str
    collections: ChromaCollections
    search: CorpusSearch
    assistant: Assistant


AssistantFactory = Callable[[CorpusSearch, EscalationService], Assistant]


class PreviewDesk:
    def __init__(
        self,
        root: Path,
        desk: DocumentDesk,
        ingestion: IngestionSettings,
        embedder: Callable[[], Embedder],
        live: Callable[[], ChromaCollections],
        live_search: Callable[[], CorpusSearch],
        make_assistant: AssistantFactory,
        clinic: ClinicConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._root = root
        self._desk = desk
        self._ingestion = ingestion
        self._embedder = embedder
        self._live = live
        self._live_search = live_search
        self._make_assistant = make_assistant
        self._clinic = clinic
        self._clock = clock
        self._scratches: OrderedDict[tuple[str, str], _Scratch] = OrderedDict()
        self._building = threading.Lock()
        self._escalations: EscalationService | None = None
        self.alerts = HeldAlerts()
        self._current: Assistant | None = None
        self._retired: list[Assistant] = []

    def escalations(self) -> EscalationService:
        """A scratch appointment book and escalation store, built on first use."""
        if self._escalations is None:
            self._root.mkdir(parents=True, exist_ok=True)
            engine = make_engine(f"sqlite:///{(self._root / 'preview.db').resolve()}")
            create_tables(engine)
            sessions = make_sessionmaker(engine)
            self._escalations = EscalationService(
                EscalationRepository(sessions, self._clock),
                BuiltinScheduler(sessions, self._clinic.care_team, self._clock),
                self.alerts,
                self._clock,
                horizon_days=self._clinic.care_team.booking_horizon_days,
            )
        return self._escalations

    async def ask_draft(self, doc_id: str, question: str) -> Any:
        draft = self._desk.drafts.get(doc_id)
        if draft is None:
            if self._desk.entry(doc_id) is None:
                raise UnknownDocumentError(doc_id)
            raise DocumentRejectedError(f"'{doc_id}' has no draft to preview")
        scratch = await asyncio.to_thread(self._scratch, doc_id, draft.revision)
        while self._retired:
            await self._retired.pop().close()
        return await scratch.assistant.ask(question)

    async def ask_current(self, question: str) -> Any:
        """The answer patients get today, without recording or escalating for real."""
        if self._current is None:
            self._current = self._make_assistant(self._live_search(), self.escalations())
        return await self._current.ask(question)

    def _scratch(self, doc_id: str, draft_revision: str) -> _Scratch:
        key = (doc_id, draft_revision)
        with self._building:
            found = self._scratches.get(key)
            if found is not None:
                self._scratches.move_to_end(key)
                return found
            scratch = self._build(doc_id)
            self._scratches[key] = scratch
            while len(self._scratches) > _KEEP:
                _, old = self._scratches.popitem(last=False)
                self._drop(old)
            return scratch

    def _build(self, doc_id: str) -> _Scratch:
        name = f"preview_{uuid.uuid4().hex[:12]}"
        settings = self._ingestion.model_copy(update={"collection": name, "chroma_host": None})
        collections = open_collections(settings, self._root / "chroma")
        try:
            live = self._live()
            _copy(live.chunks, collections.chunks, doc_id)
            _copy(live.sentences, collections.sentences, doc_id)
            embedder = self._embedder()
            indexer = CorpusIndexer(collections, embedder, settings.chunk_max_tokens)
            with tempfile.TemporaryDirectory(prefix="aftercare-preview-") as folder:
                corpus = Path(folder)
                for entry in self._desk.entries():
                    if entry.doc_id == doc_id:
                        continue
                    for path in entry.files():
                        target = corpus / path.relative_to(self._desk.corpus_dir)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, target)
                draft = self._desk.drafts.get(doc_id)
                assert draft is not None
                self._desk.approved_copy(draft, corpus)
                report = indexer.ingest(corpus, self._clinic.placeholders(), live=self._desk.live)
            mine = next((d for d in report.documents if d.doc_id == doc_id), None)
            if mine is None or mine.status == "failed":
                reason = mine.error if mine else "it did not reach the scratch index"
                raise DocumentRejectedError(f"the draft cannot be previewed: {reason}")
            search = CorpusSearch(collections, embedder, settings.top_k)
            search.refresh()
        except BaseException:
            _delete_collections(collections, name)
            raise
        assistant = self._make_assistant(search, self.escalations())
        return _Scratch(name, collections, search, assistant)

    def _drop(self, scratch: _Scratch) -> None:
        self._retired.append(scratch.assistant)
        scratch.search.close()
        _delete_collections(scratch.collections, scratch.name)

    async def close(self) -> None:
        for scratch in self._scratches.values():
            self._drop(scratch)
        self._scratches.clear()
        while self._retired:
            await self._retired.pop().close()
        if self._current is not None:
            await self._current.close()


def _copy(source: Any, target: Any, skip_doc_id: str) -> None:
    """Every vector of the live collection except the previewed document's."""
    offset = 0
    while True:
        got = source.get(
            include=["embeddings", "metadatas", "documents"], limit=_COPY_BATCH, offset=offset
        )
        ids = list(got["ids"])
        if not ids:
            return
        keep = [i for i, meta in enumerate(got["metadatas"]) if meta.get("doc_id") != skip_doc_id]
        if keep:
            target.add(
                ids=[ids[i] for i in keep],
                embeddings=[got["embeddings"][i] for i in keep],
                metadatas=[got["metadatas"][i] for i in keep],
                documents=[got["documents"][i] for i in keep],
            )
        offset += len(ids)


def _delete_collections(collections: ChromaCollections, name: str) -> None:
    for collection in (name, f"{name}_sentences"):
        try:
            collections.client.delete_collection(collection)
        except Exception:  # already gone
            continue

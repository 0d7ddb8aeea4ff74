"""The parts of a deployment that load late, and how assistants are made from them.

The embedding model and the index take seconds to load, so a server answers /healthz
while they do: they live here, behind one readiness flag (an assistant exists), and parts
that need them ask for them when used (``NotReadyError`` until then) instead of reaching
back into the container that holds everything.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from app.conversation.assistant import Assistant
from app.conversation.composers.base import AnswerComposer
from app.conversation.turn_log import TurnLog
from app.errors import NotReadyError
from app.operations.tracing import Tracing
from app.settings import Settings
from escalation.clinic import ClinicConfig
from escalation.danger_meaning import MeaningDetector, MeaningThresholds, load_phrasings
from escalation.policy import PolicyWeights
from escalation.service import EscalationService
from ingestion.documents import CorpusDocument
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer, IngestReport, Progress
from ingestion.search import CorpusSearch
from ingestion.store import ChromaCollections, open_collections

T = TypeVar("T")
NOT_LOADED = "the assistant is still loading its model and index"


def loaded(part: T | None) -> T:
    if part is None:
        raise NotReadyError(NOT_LOADED)
    return part


@dataclass
class LoadedParts:
    settings: Settings
    clinic: ClinicConfig
    embedder: Embedder | None = None
    collections: ChromaCollections | None = None
    search: CorpusSearch | None = None
    indexer: CorpusIndexer | None = None
    detector: MeaningDetector | None = None
    assistant: Assistant | None = None
    _ingesting: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ready(self) -> bool:
        return self.assistant is not None

    def load(self) -> None:
        """Load the embedding model and open the index (blocking; seconds)."""
        settings = self.settings
        if self.embedder is None:
            self.embedder = Embedder(batch_size=settings.ingestion.embed_batch_size)
        if self.collections is None:
            self.collections = open_collections(settings.ingestion, settings.chroma_path)
        self.indexer = CorpusIndexer(
            self.collections, self.embedder, settings.ingestion.chunk_max_tokens
        )
        if self.search is None:
            self.search = CorpusSearch(self.collections, self.embedder, settings.ingestion.top_k)
        if self.detector is None:
            phrasings = load_phrasings().merged(
                self.clinic.danger_phrasings, self.clinic.danger_look_alikes
            )
            self.detector = MeaningDetector(self.search.embed, phrasings)

    def ingest(
        self,
        corpus_dir: Path,
        progress: Progress | None = None,
        live: Callable[[CorpusDocument], bool] | None = None,
    ) -> IngestReport:
        if self.indexer is None or self.search is None:
            self.load()
        indexer, search = loaded(self.indexer), loaded(self.search)
        with self._ingesting:  # the periodic job and an approval never interleave
            report = indexer.ingest(corpus_dir, self.clinic.placeholders(), progress, live=live)
            search.refresh()
        return report

    def loaded_embedder(self) -> Embedder:
        return loaded(self.embedder)

    def loaded_search(self) -> CorpusSearch:
        return loaded(self.search)

    def loaded_collections(self) -> ChromaCollections:
        return loaded(self.collections)

    def chunk_counts(self) -> dict[str, int]:
        """Chunks in the live index per document id (empty before the index is open)."""
        if self.collections is None:
            return {}
        got = self.collections.chunks.get(include=["metadatas"])
        return dict(Counter(str(m["doc_id"]) for m in got["metadatas"] or []))

    def indexed_sections(self, doc_id: str) -> list[tuple[str, str]]:
        """A document's chunks as the assistant reads them, in order: (section, text)."""
        if self.collections is None:
            return []
        got = self.collections.chunks.get(
            where={"doc_id": doc_id}, include=["metadatas", "documents"]
        )
        rows = sorted(
            zip(got["metadatas"] or [], got["documents"] or [], strict=True),
            key=lambda row: int(row[0].get("chunk_index", 0)),
        )
        return [(str(meta.get("section", "")), str(text)) for meta, text in rows]


@dataclass
class AssistantMaker:
    """The assistant as configured, over any index (previews use scratch ones)."""

    parts: LoadedParts
    make_composer: Callable[[Embedder], AnswerComposer]
    clock: Callable[[], datetime]
    tracing: Tracing
    policy: tuple[float, PolicyWeights] | None = None
    meaning: MeaningThresholds | None = None

    def over(
        self, search: CorpusSearch, escalations: EscalationService, turn_log: TurnLog | None
    ) -> Assistant:
        parts = self.parts
        threshold, weights = self.policy or (
            parts.settings.escalation.confidence_threshold,
            PolicyWeights(),
        )
        return Assistant(
            search=search,
            composer=self.make_composer(parts.loaded_embedder()),
            escalations=escalations,
            clinic=parts.clinic,
            threshold=threshold,
            weights=weights,
            clock=self.clock,
            turn_log=turn_log,
            detector=parts.detector,
            meaning_thresholds=self.meaning,
            tracing=self.tracing,
        )

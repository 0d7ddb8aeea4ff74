"""Questions searched at once share one embedding pass and one index query."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from escalation.clinic import ClinicConfig
from ingestion.batching import Batcher
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer
from ingestion.search import CorpusSearch
from ingestion.settings import IngestionSettings
from ingestion.store import open_collections


def test_batches_form_under_load_and_keep_order() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: list[int]) -> list[int]:
        gate.wait(5)
        sizes.append(len(items))
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_batch=8)
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            futures = [pool.submit(batcher.submit, i) for i in range(20)]
            gate.set()
            assert [f.result() for f in futures] == [i * 10 for i in range(20)]
    finally:
        batcher.close()
    assert sum(sizes) == 20 and max(sizes) > 1 and max(sizes) <= 8


def test_errors_reach_every_waiter_and_the_batcher_goes_on() -> None:
    def run(items: list[str]) -> list[str]:
        if "bad" in items:
            raise RuntimeError("model failed")
        return items

    batcher: Batcher[str, str] = Batcher(run)
    try:
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.submit("bad")
        assert batcher.submit("good") == "good"
    finally:
        batcher.close()


def test_concurrent_searches_match_lone_ones(
    embedder: Embedder, small_corpus: Path, data_dir: Path
) -> None:
    collections = open_collections(IngestionSettings(), data_dir / "chroma")
    CorpusIndexer(collections, embedder, 200).ingest(small_corpus, ClinicConfig().placeholders())
    search = CorpusSearch(collections, embedder, top_k=5)
    search.refresh()
    questions = [
        "how long will the catheter stay in?",
        "when can I drive again?",
        "how often is the PSA test?",
        "can I have a bath?",
    ] * 4
    try:
        alone = [search.search(q) for q in questions[:4]]
        with ThreadPoolExecutor(max_workers=16) as pool:
            together = list(pool.map(search.search, questions))
    finally:
        search.close()
    for i, result in enumerate(together):
        lone = alone[i % 4]
        assert [p.chunk_id for p in result.passages] == [p.chunk_id for p in lone.passages]
        assert np.isclose(result.signals.top_score, lone.signals.top_score, atol=1e-4)

"""The embedding model from the shipped weights, and the query batcher."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ingestion.embedding import Embedder, QueryBatcher


def test_unit_vectors_and_word_piece_counts(embedder: Embedder) -> None:
    vectors = embedder.embed(["How long does the catheter stay in?", "Driving after surgery"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.max_tokens == 256
    assert embedder.count_tokens("catheter") >= 3  # [CLS] ... [SEP]


def test_batched_queries_match_single_ones(embedder: Embedder) -> None:
    batcher = QueryBatcher(embedder, max_batch=8)
    questions = [f"question number {i} about pelvic floor exercises" for i in range(24)]
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            batched = list(pool.map(batcher.embed_one, questions))
    finally:
        batcher.close()
    for question, vector in zip(questions, batched, strict=True):
        assert np.allclose(vector, embedder.embed_one(question), atol=1e-4)


def test_batcher_passes_errors_to_every_waiter(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = QueryBatcher(embedder)

    def broken(texts: list[str]) -> object:
        raise RuntimeError("model failed")

    monkeypatch.setattr(embedder, "embed", broken)
    try:
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.embed_one("anything")
    finally:
        batcher.close()

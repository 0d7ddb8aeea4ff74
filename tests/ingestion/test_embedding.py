"""The embedding model from the shipped weights, and the query batcher."""

from __future__ import annotations

import numpy as np

from ingestion.embedding import Embedder


def test_unit_vectors_and_word_piece_counts(embedder: Embedder) -> None:
    vectors = embedder.embed(["How long does the catheter stay in?", "Driving after surgery"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.max_tokens == 256
    assert embedder.count_tokens("catheter") >= 3  # [CLS] ... [SEP]


def test_direct_pooling_matches_the_model_recipe(embedder: Embedder) -> None:
    texts = ["A short one.", "A much longer sentence about pelvic floor exercises " * 5]
    ours = embedder.embed(texts)
    reference = embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.allclose(ours, reference, atol=1e-5)

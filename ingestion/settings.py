"""The ingestion package's section of the settings (``AFTERCARE_INGESTION__...``)."""

from pydantic import BaseModel, Field


class IngestionSettings(BaseModel):
    chunk_max_tokens: int = Field(
        default=200, ge=32, le=256, description="Word-pieces per chunk, heading included."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages retrieved per question.")
    collection: str = "aftercare_corpus"
    chroma_host: str | None = Field(
        default=None, description="A Chroma server's host; embedded store when unset."
    )
    chroma_port: int = 8000
    embed_batch_size: int = Field(default=32, ge=1, le=512)
    reingest_interval_s: float = Field(
        default=300, ge=0, description="How often the server re-reads the corpus; 0: never."
    )

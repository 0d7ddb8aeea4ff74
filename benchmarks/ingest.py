"""Ingest benchmark: cold ingest of the bundled corpus, a re-ingest with nothing changed,
and a re-ingest after one document changed. Prints times and embeddings computed.

    python benchmarks/ingest.py [--corpus corpus]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from escalation.clinic import load_clinic_config
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer
from ingestion.settings import IngestionSettings
from ingestion.store import open_collections


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    placeholders = load_clinic_config().placeholders()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(args.corpus, corpus)
        started = time.perf_counter()
        embedder = Embedder()
        load_s = time.perf_counter() - started
        settings = IngestionSettings()
        collections = open_collections(settings, Path(tmp) / "chroma")
        indexer = CorpusIndexer(collections, embedder, settings.chunk_max_tokens)

        def timed(label: str) -> None:
            t0 = time.perf_counter()
            report = indexer.ingest(corpus, placeholders)
            elapsed = time.perf_counter() - t0
            chunks = sum(d.chunks for d in report.documents)
            print(
                f"{label:<22} {elapsed:7.2f} s  embeddings computed: {report.texts_embedded:5d}"
                f"  chunks: {chunks:4d}  counts: {report.counts}"
            )

        print(f"model load              {load_s:7.2f} s (not counted below)")
        timed("cold ingest")
        timed("re-ingest, no change")
        target = next(
            p for p in sorted(corpus.glob("*.md")) if not p.name.lower().startswith("readme")
        )
        target.write_text(
            target.read_text(encoding="utf-8") + "\nOne more sentence for the test.\n",
            encoding="utf-8",
        )
        timed(f"one changed ({target.name})")


if __name__ == "__main__":
    main()

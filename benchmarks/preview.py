"""Preview benchmark: what asking against a draft costs, beside a cold ingest of the corpus
and an ordinary question, measured in the same run.

The scratch index copies the live index's vectors, so only the draft is embedded; the
figures show how that compares with building the index from nothing.

    python benchmarks/preview.py [--corpus corpus]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.main import build_services
from app.settings import Settings
from app.workspace.document_files import split_front_matter

QUESTION = "How long will the catheter stay in?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(args.corpus, corpus)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=Path(tmp) / "data", corpus_dir=corpus
        )
        services = build_services(settings)
        services.load()
        assert services.embedder is not None and services.desk is not None
        assert services.previews is not None

        t0 = time.perf_counter()
        before = services.embedder.texts_embedded
        report = services.ingest()
        cold_s = time.perf_counter() - t0
        cold_texts = services.embedder.texts_embedded - before
        services.activate()
        assert services.assistant is not None
        staff, _ = services.people.add_staff("Benchmark clinician", "clinician")

        entry = services.desk.entry("catheter-care")
        assert entry is not None
        meta, body = split_front_matter(entry.text)
        detail = services.desk.detail("catheter-care")
        meta = {
            k: v for k, v in meta.items() if k not in ("reviewed_by", "reviewed_on", "review_due")
        }
        services.desk.save_draft(
            "catheter-care",
            detail.revision,
            {**meta, "version": f"{meta['version']}-next"},
            body + "\nOne more sentence added in the draft.\n",
            staff,
        )

        async def run() -> tuple[float, float, float, int]:
            assert services.previews is not None and services.assistant is not None
            t1 = time.perf_counter()
            await services.assistant.ask(QUESTION)
            live_s = time.perf_counter() - t1
            embedded = services.embedder.texts_embedded if services.embedder else 0
            t2 = time.perf_counter()
            await services.previews.ask_draft("catheter-care", QUESTION)
            first_s = time.perf_counter() - t2
            draft_texts = (services.embedder.texts_embedded if services.embedder else 0) - embedded
            t3 = time.perf_counter()
            await services.previews.ask_draft("catheter-care", QUESTION)
            again_s = time.perf_counter() - t3
            await services.stop()
            return live_s, first_s, again_s, draft_texts

        live_s, first_s, again_s, draft_texts = asyncio.run(run())
        chunks = sum(d.chunks for d in report.documents)
        print(
            f"cold ingest ({len(report.documents)} documents, {chunks} chunks)"
            f"  {cold_s:7.2f} s  embeddings: {cold_texts}"
        )
        print(f"ordinary question                         {live_s * 1000:7.1f} ms")
        print(
            f"first preview (scratch index + answer)    {first_s:7.2f} s  "
            f"embeddings: {draft_texts} (question and draft only)"
        )
        print(f"second preview (scratch index kept)       {again_s * 1000:7.1f} ms")
        print(
            f"ratios: first preview / cold ingest {first_s / cold_s:.2f}; "
            f"second preview / ordinary question {again_s / live_s:.2f}"
        )


if __name__ == "__main__":
    main()

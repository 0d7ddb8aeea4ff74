"""Turn latency: the server-side time of a whole turn (question in, answer object out)
beside llama-index's own default retrieval over the same corpus and embedding model,
measured in the same run.

    python benchmarks/turn_latency.py [--questions FILE] [--rounds 3]

It also times whole turns on long messages (60 to 120 words, as real patients write them:
several sentences of history before one question) beside short ones (at most 20 words),
in the same run: the long messages' p95 should be at most twice the short ones'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode

from app.main import build_services
from app.operations.evaluation import DEFAULT_QUESTIONS, REAL_QUESTIONS, load_questions, percentile
from app.settings import Settings
from ingestion.embedding import LlamaIndexEmbedding


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--real", type=Path, default=REAL_QUESTIONS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [
        q.question
        for q in load_questions(args.questions)
        if q.expected in ("answered", "escalated")
    ]
    every = [q.question for path in (args.questions, args.real) for q in load_questions(path)]
    long = [q for q in every if 60 <= len(q.split()) <= 120]
    short = [q for q in every if len(q.split()) <= 20]
    asyncio.run(run(questions, args.corpus, args.rounds, long, short))


async def run(
    questions: list[str], corpus: Path, rounds: int, long: list[str], short: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), corpus_dir=corpus)  # type: ignore[call-arg]
        services = build_services(settings, load_model=True)
        await services.start(ingest=True)
        assert services.assistant is not None and services.collections is not None
        assistant = services.assistant
        got = services.collections.chunks.get(include=["documents", "metadatas"])
        nodes = [
            TextNode(id_=i, text=t, metadata={"title": m["title"], "section": m["section"]})
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        assert services.embedder is not None
        embed_model = LlamaIndexEmbedding(services.embedder)
        retriever = VectorStoreIndex(nodes, embed_model=embed_model).as_retriever()

        for q in questions[:5]:  # warm both paths
            await assistant.ask(q)
            retriever.retrieve(q)

        ours: list[float] = []
        ours_answered: list[float] = []
        bare: list[float] = []
        for _ in range(rounds):
            for q in questions:
                t0 = time.perf_counter()
                retriever.retrieve(q)
                bare.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                result = await assistant.ask(q)
                elapsed = (time.perf_counter() - t0) * 1000
                ours.append(elapsed)
                if result.outcome == "answered":
                    ours_answered.append(elapsed)
        by_length: dict[str, list[float]] = {"long": [], "short": []}
        for _ in range(rounds):
            for name, texts in (("long", long), ("short", short)):
                for q in texts:
                    result = await assistant.ask(q)
                    by_length[name].append(result.timings_ms["total"])
        await services.stop()

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label:<44} n={len(values):4d}  p50={percentile(values, 0.5):7.2f} ms  "
            f"p95={percentile(values, 0.95):7.2f} ms  mean={statistics.fmean(values):7.2f} ms"
        )

    print(line("llama-index VectorStoreIndex retrieve", bare))
    print(line("aftercare whole turn (all in-scope/escalate)", ours))
    print(line("aftercare whole turn (answered only)", ours_answered))
    ratio = percentile(ours, 0.95) / percentile(bare, 0.95)
    print(
        f"p95 ratio, whole turn / bare retrieval: {ratio:.2f} (target <= 1.5); "
        f"p95 whole turn {percentile(ours, 0.95):.1f} ms (target < 40 ms)"
    )
    print(line(f"whole turn, long messages ({len(long)} of 60-120 words)", by_length["long"]))
    print(line(f"whole turn, short messages ({len(short)} of <= 20 words)", by_length["short"]))
    length_ratio = percentile(by_length["long"], 0.95) / percentile(by_length["short"], 0.95)
    print(f"p95 ratio, long / short messages: {length_ratio:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()

"""Turn latency with tracing on beside tracing off, in the same run.

    python benchmarks/tracing_overhead.py [--questions FILE] [--rounds 3]

Two deployments over the same corpus and embedding model: one with tracing off (the
default), one exporting every span by OTLP/HTTP to a local collector on loopback. The
same questions are asked of both, alternately, so machine load hits both alike. Prints
p50/p95 of whole turns (all, and answered only: escalations add SQLite writes whose
spread swamps the tracing cost) and the on/off ratios.
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

from stand_ins import SpanSink

from app.conversation.assistant import Assistant
from app.conversation.turn import TurnContext
from app.main import build_services
from app.operations.evaluation import DEFAULT_QUESTIONS, load_questions, percentile
from app.services import Services
from app.settings import Settings
from ingestion.embedding import Embedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [
        q.question
        for q in load_questions(args.questions)
        if q.expected in ("answered", "escalated")
    ]
    asyncio.run(run(questions, args.corpus, args.rounds))


async def deployment(root: Path, corpus: Path, embedder: Embedder, **extra: object) -> Services:
    settings = Settings(_env_file=None, data_dir=root, corpus_dir=corpus, **extra)  # type: ignore[arg-type]
    services = build_services(settings)
    services.embedder = embedder
    await services.start(ingest=True)
    return services


async def run(questions: list[str], corpus: Path, rounds: int) -> None:
    sink = SpanSink()
    collector = sink.serve()
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        off = await deployment(Path(tmp) / "off", corpus, embedder)
        on = await deployment(
            Path(tmp) / "on", corpus, embedder, telemetry={"otlp_endpoint": collector.url}
        )
        assert off.assistant is not None and on.assistant is not None
        assert not off.tracing.enabled and on.tracing.enabled
        pair: dict[str, Assistant] = {"off": off.assistant, "on": on.assistant}
        for q in questions[:5]:  # warm both
            for assistant in pair.values():
                await assistant.ask(q, TurnContext(conversation_id="warm-up"))
        times: dict[str, list[float]] = {"off": [], "on": []}
        answered: dict[str, list[float]] = {"off": [], "on": []}
        for round_ in range(rounds):
            for i, q in enumerate(questions):
                # Alternate who goes first so neither always gets the warmer cache.
                order = ("off", "on") if (i + round_) % 2 == 0 else ("on", "off")
                for name in order:
                    context = TurnContext(conversation_id=f"bench-{round_}-{i // 4}")
                    t0 = time.perf_counter()
                    result = await pair[name].ask(q, context)
                    elapsed = (time.perf_counter() - t0) * 1000
                    times[name].append(elapsed)
                    if result.outcome == "answered":
                        answered[name].append(elapsed)
        on.tracing.flush()
        await off.stop()
        await on.stop()
    collector.stop()

    for label, measured in (("all turns", times), ("answered only", answered)):
        for name in ("off", "on"):
            values = measured[name]
            print(
                f"{label:<14} tracing {name:<3}  n={len(values):4d}  "
                f"p50={percentile(values, 0.5):7.2f} ms  p95={percentile(values, 0.95):7.2f} ms  "
                f"mean={statistics.fmean(values):7.2f} ms"
            )
        p50 = percentile(measured["on"], 0.5) / percentile(measured["off"], 0.5)
        p95 = percentile(measured["on"], 0.95) / percentile(measured["off"], 0.95)
        print(f"{label:<14} ratio on/off: p50 {p50:.3f}, p95 {p95:.3f}")
    print(f"spans received by the collector: {sink.spans}")


if __name__ == "__main__":
    main()

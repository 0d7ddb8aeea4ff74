"""Generation overhead: what the generated composer adds between the question and the
first spoken sentence, beyond the model's own time to first token.

A local OpenAI-compatible server (its own process) waits a fixed time before its first
token, then streams a grounded answer as fast as it can. For each question the
composer runs against real passages from an index of the corpus; the time from the
call to the first released sentence, minus the fixed wait, is our overhead: the HTTP
round trip through the official client, sentence splitting, and the grounding check.

    python benchmarks/generation_overhead.py [--corpus corpus] [--runs 100] [--ttft-ms 300]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from live_server import free_port
from numpy.typing import NDArray
from openai import AsyncOpenAI
from scripted_model import serve_model

from app.conversation.composers.base import CannotAnswer, CompositionRequest
from app.conversation.composers.extractive import ExtractiveComposer, attribution, select_sentences
from app.conversation.composers.generated import GeneratedComposer
from app.conversation.composers.grounding import SupportChecker
from app.operations.evaluation import DEFAULT_QUESTIONS, load_questions, percentile
from app.settings import Settings
from escalation.clinic import load_clinic_config
from ingestion.embedding import Embedder
from ingestion.index import CorpusIndexer
from ingestion.search import CorpusSearch, Passage
from ingestion.store import open_collections

TARGET_P95_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--ttft-ms", type=float, default=300.0)
    parser.add_argument(
        "--embed-passages",
        action="store_true",
        help="embed the passages' sentences per answer instead of taking the index's vectors",
    )
    args = parser.parse_args()
    asyncio.run(
        run(args.corpus, args.questions, args.runs, args.ttft_ms / 1000, args.embed_passages)
    )


def wait_model(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the scripted model did not start")


def scripted_answer(question: str, passages: tuple[Passage, ...]) -> str | None:
    """What a well-behaved model would say: the guide's own sentences, then its title."""
    chosen = select_sentences(question, passages)
    if not chosen:
        return None
    return " ".join([text for _, text in chosen] + [attribution(chosen[0][0].title)])


async def run(
    corpus: Path, questions_file: Path, runs: int, ttft_s: float, embed_passages: bool
) -> None:
    settings = Settings(_env_file=None)
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        collections = open_collections(settings.ingestion, Path(tmp) / "chroma")
        CorpusIndexer(collections, embedder, settings.ingestion.chunk_max_tokens).ingest(
            corpus, load_clinic_config().placeholders()
        )
        search = CorpusSearch(collections, embedder, settings.ingestion.top_k)
        search.refresh()

        questions = [q.question for q in load_questions(questions_file) if q.expected == "answered"]
        requests: list[CompositionRequest] = []
        answers: dict[str, str] = {}
        for question in questions:
            if any(question != other and question in other for other in questions):
                continue
            passages = search.search(question).passages
            answer = scripted_answer(question, passages)
            if answer is None:
                continue
            requests.append(CompositionRequest(question, passages))
            answers[question] = answer

        context = multiprocessing.get_context("spawn")
        port = free_port()
        process = context.Process(target=serve_model, args=(answers, ttft_s, port), daemon=True)
        process.start()
        try:
            wait_model(port)
            vectors = None if embed_passages else sentence_vectors(embedder, requests)
            overheads, outcomes = await measure(port, embedder, requests, runs, ttft_s, vectors)
        finally:
            process.terminate()
            process.join(timeout=10)

    print(f"questions: {len(requests)}  compositions: {len(overheads)}  outcomes: {outcomes}")
    print(
        f"fixed time to first token: {ttft_s * 1000:.0f} ms; passage sentence vectors: "
        f"{'embedded per answer' if embed_passages else 'from the index'}"
    )
    p50, p95 = percentile(overheads, 0.5), percentile(overheads, 0.95)
    print(
        f"overhead to first spoken sentence: p50={p50:.2f} ms  p95={p95:.2f} ms  "
        f"mean={statistics.fmean(overheads):.2f} ms  max={max(overheads):.2f} ms"
    )
    print(f"target p95 < {TARGET_P95_MS:.0f} ms: {'met' if p95 < TARGET_P95_MS else 'NOT met'}")


def sentence_vectors(
    embedder: Embedder, requests: list[CompositionRequest]
) -> dict[str, NDArray[np.float32]]:
    """The passages' sentence vectors, as the index holds them (same model, same sentences)."""
    table: dict[str, NDArray[np.float32]] = {}
    for request in requests:
        for passage in request.passages:
            if passage.chunk_id not in table:
                table[passage.chunk_id] = embedder.embed([s.text for s in passage.sentences])
    return table


async def measure(
    port: int,
    embedder: Embedder,
    requests: list[CompositionRequest],
    runs: int,
    ttft_s: float,
    vectors: dict[str, NDArray[np.float32]] | None,
) -> tuple[list[float], dict[str, int]]:
    fallbacks: list[str] = []
    client = AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="not-needed", timeout=20, max_retries=0
    )
    composer = GeneratedComposer(
        client=client,
        model="benchmark",
        temperature=0.2,
        first_sentence_timeout_s=2.0,
        support=SupportChecker(
            embedder.embed, Settings.model_fields["llm_support_threshold"].default
        ),
        fallback=ExtractiveComposer(),
        on_fallback=fallbacks.append,
        passage_vectors=(lambda _: vectors) if vectors is not None else None,
    )
    outcomes = {"answered": 0, "escalated": 0, "fallback": 0}
    overheads: list[float] = []
    try:
        for i in range(runs + 5):
            request = requests[i % len(requests)]
            before = len(fallbacks)
            started = time.perf_counter()
            first: float | None = None
            try:
                async for _ in composer.compose(request):
                    first = first or time.perf_counter()
            except CannotAnswer:
                outcomes["escalated"] += 1 if i >= 5 else 0
                continue
            if i < 5:  # warm-up: connections, model caches
                continue
            if len(fallbacks) > before:
                outcomes["fallback"] += 1
                continue
            assert first is not None
            outcomes["answered"] += 1
            overheads.append((first - started - ttft_s) * 1000)
    finally:
        await client.close()
    return overheads, outcomes


if __name__ == "__main__":
    main()

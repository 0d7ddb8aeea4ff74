"""Voice latency under load: time to first sentence on WS /v1/voice for one session, then
for many concurrent sessions, against the same server in one run.

The server runs in its own process (the real app under uvicorn, on loopback, on a
temporary data directory), so the load generator's event loop does not share its GIL.
Each session asks questions the corpus answers, one after another, waiting for
``turn.completed`` before the next. Times are taken on the client, from sending the final
transcript to the first ``speech.sentence`` of that turn and to ``turn.completed``.

By default the sessions ask back to back, the heaviest load 50 sessions can make: the
figure then mostly measures queueing behind the server's throughput. ``--pause`` makes
each session wait between an answer and its next question, as a patient listening to the
answer and speaking again would, with the sessions' first questions spread over it.

    python benchmarks/voice_latency.py [--sessions 50] [--per-session 5] [--single 30]
                                       [--pause 0] [--platform]

``--platform`` adds, in the same run and against the same server, the platforms' paths:
the same number of concurrent calls over the custom-LLM HTTP endpoint (time to the first
streamed content chunk) and over the Retell socket (time to the first ``response`` event
with content), each call asking its questions in turn; p95 beside the /v1/voice figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from live_server import free_port, serve, stop, wait_ready
from websockets.asyncio.client import ClientConnection, connect

from app.operations.evaluation import DEFAULT_QUESTIONS, load_questions, percentile

ACK_AFTER_S = 5.0
"""Longer than any turn here, so the filler acknowledgement never counts as a sentence."""
TURN_TIMEOUT_S = 60.0
TARGET_P95_MS = 150.0
PLATFORM_KEY = "benchmark-platform-key"


@dataclass(frozen=True)
class TurnTiming:
    first_sentence_ms: float | None
    completed_ms: float
    server_ms: dict[str, float]
    outcome: str


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--per-session", type=int, default=5)
    parser.add_argument("--single", type=int, default=30, help="questions in the single pass")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--platform", action="store_true", help="also time the platform endpoints")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds a session waits after each answer before its next question "
        "(0: back to back, the heaviest load)",
    )
    args = parser.parse_args()
    questions = [q.question for q in load_questions(args.questions) if q.expected == "answered"]
    if not questions:
        raise SystemExit("no answered-type questions in the question set")
    if args.sessions < 1 or args.per_session < 1 or args.single < 1:
        raise SystemExit("--sessions, --per-session and --single must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve,
            args=(tmp, str(args.corpus.resolve()), port, ACK_AFTER_S, PLATFORM_KEY),
            daemon=True,
        )
        started = time.perf_counter()
        server.start()
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            print(f"server ready in {time.perf_counter() - started:.1f} s (ingest included)")
            url = f"ws://127.0.0.1:{port}/v1/voice"
            plan = Plan(args.sessions, args.per_session, args.single, args.warmup, args.pause)
            loaded = asyncio.run(run(url, questions, plan))
            if args.platform:
                base = f"127.0.0.1:{port}"
                asyncio.run(run_platforms(base, questions, plan, loaded))
        finally:
            stop(server)


@dataclass(frozen=True)
class Plan:
    sessions: int
    per_session: int
    single: int
    warmup: int
    pause: float


async def run(url: str, questions: list[str], plan: Plan) -> float:
    def take(start: int, count: int) -> list[str]:
        return [questions[(start + i) % len(questions)] for i in range(count)]

    await session(url, take(0, plan.warmup))
    alone = await session(url, take(plan.warmup, plan.single))

    start = plan.warmup + plan.single
    jitter = random.Random(7)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(
            session(
                url,
                take(start + s * plan.per_session, plan.per_session),
                plan.pause,
                jitter.uniform(0, plan.pause),
            )
            for s in range(plan.sessions)
        )
    )
    wall = time.perf_counter() - t0
    loaded = [timing for result in results for timing in result]

    sessions = plan.sessions
    report("1 session", alone)
    report(f"{sessions} concurrent sessions", loaded)
    print(
        f"{sessions} sessions x {plan.per_session} turns in {wall:.1f} s "
        f"({len(loaded) / wall:.1f} turns/s), pause between turns {plan.pause:.1f} s"
    )
    p95_alone = percentile(first_sentences(alone), 0.95)
    p95_loaded = percentile(first_sentences(loaded), 0.95)
    ratio = p95_loaded / p95_alone if p95_alone else float("nan")
    verdict = "met" if p95_loaded < TARGET_P95_MS else "MISSED"
    print(
        f"p95 time to first sentence: {p95_loaded:.1f} ms at {sessions} sessions, "
        f"{p95_alone:.1f} ms alone, ratio {ratio:.2f}; "
        f"target < {TARGET_P95_MS:.0f} ms at {sessions} sessions: {verdict}"
    )
    return p95_loaded


async def run_platforms(base: str, questions: list[str], plan: Plan, voice_p95: float) -> None:
    """Concurrent calls over the custom-LLM endpoint, then over the Retell socket."""

    def take(start: int, count: int) -> list[str]:
        return [questions[(start + i) % len(questions)] for i in range(count)]

    async with httpx.AsyncClient(timeout=TURN_TIMEOUT_S) as client:
        http = await asyncio.gather(
            *(
                http_call(client, base, f"bench-{s}", take(s * plan.per_session, plan.per_session))
                for s in range(plan.sessions)
            )
        )
    retell = await asyncio.gather(
        *(
            retell_call(base, f"bench-{s}", take(s * plan.per_session + 1, plan.per_session))
            for s in range(plan.sessions)
        )
    )
    for label, results in (("custom-LLM HTTP", http), ("Retell socket", retell)):
        firsts = [ms for call in results for ms in call]
        p95 = percentile(firsts, 0.95)
        print(
            f"{label}: {plan.sessions} concurrent calls, n={len(firsts)}  "
            f"p50={percentile(firsts, 0.5):.1f} ms  p95={p95:.1f} ms to the first sentence; "
            f"ratio to /v1/voice p95 in this run {ratio(p95, voice_p95):.2f}"
        )


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else float("nan")


async def http_call(
    client: httpx.AsyncClient, base: str, call_id: str, texts: list[str]
) -> list[float]:
    """One Vapi-style call: the whole conversation each request, streamed answers."""
    messages: list[dict[str, str]] = []
    firsts: list[float] = []
    for text in texts:
        messages.append({"role": "user", "content": text})
        body = {"model": "aftercare", "stream": True, "messages": messages, "call": {"id": call_id}}
        sent = time.perf_counter()
        first: float | None = None
        answer = ""
        async with client.stream(
            "POST",
            f"http://{base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {PLATFORM_KEY}"},
        ) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta and first is None:
                    first = (time.perf_counter() - sent) * 1000
                answer += delta or ""
        if first is not None:
            firsts.append(first)
        messages.append({"role": "assistant", "content": answer})
    return firsts


async def retell_call(base: str, call_id: str, texts: list[str]) -> list[float]:
    """One Retell call: call details, then one response_required per question."""
    firsts: list[float] = []
    transcript: list[dict[str, str]] = []
    url = f"ws://{base}/v1/retell/{call_id}?key={PLATFORM_KEY}"
    async with connect(url, open_timeout=60) as ws:
        await ws.send(
            json.dumps({"interaction_type": "call_details", "call": {"call_id": call_id}})
        )
        for number, text in enumerate(texts, start=1):
            transcript.append({"role": "user", "content": text})
            await ws.send(
                json.dumps(
                    {
                        "interaction_type": "response_required",
                        "response_id": number,
                        "transcript": transcript,
                    }
                )
            )
            sent = time.perf_counter()
            first: float | None = None
            answer = ""
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT_S))
                if event.get("response_id") != number:
                    continue
                if event["content"] and first is None:
                    first = (time.perf_counter() - sent) * 1000
                answer += event["content"]
                if event["content_complete"]:
                    break
            if first is not None:
                firsts.append(first)
            transcript.append({"role": "agent", "content": answer.strip()})
    return firsts


async def session(
    url: str, texts: list[str], pause: float = 0.0, delay: float = 0.0
) -> list[TurnTiming]:
    """One voice conversation asking ``texts`` in order, ``pause`` seconds apart."""
    timings: list[TurnTiming] = []
    async with connect(url, open_timeout=60, max_size=2**22) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT_S))
        if ready.get("type") != "session.ready":
            raise RuntimeError(f"expected session.ready, got {ready.get('type')}")
        await asyncio.sleep(delay)
        for number, text in enumerate(texts):
            if number and pause:
                await asyncio.sleep(pause)
            timings.append(await asyncio.wait_for(turn(ws, text), TURN_TIMEOUT_S))
    return timings


async def turn(ws: ClientConnection, text: str) -> TurnTiming:
    await ws.send(json.dumps({"type": "user_transcript", "text": text, "final": True}))
    sent = time.perf_counter()
    first: float | None = None
    turn_id: str | None = None
    while True:
        event = json.loads(await ws.recv())
        kind = event.get("type")
        if kind == "error":
            raise RuntimeError(f"server error: {event.get('code')}")
        if kind == "turn.started":
            turn_id = event["turn_id"]
        elif event.get("turn_id") != turn_id:
            continue
        elif kind == "speech.sentence" and first is None:
            first = (time.perf_counter() - sent) * 1000
        elif kind == "turn.completed":
            elapsed = (time.perf_counter() - sent) * 1000
            server = {k: float(v) for k, v in event["timings_ms"].items()}
            return TurnTiming(first, elapsed, server, event["outcome"])
        elif kind == "turn.cancelled":
            raise RuntimeError("the turn was cancelled")


def first_sentences(timings: list[TurnTiming]) -> list[float]:
    return [t.first_sentence_ms for t in timings if t.first_sentence_ms is not None]


def report(label: str, timings: list[TurnTiming]) -> None:
    def line(what: str, values: list[float]) -> str:
        return (
            f"  {what:<34} n={len(values):4d}  p50={percentile(values, 0.5):8.2f} ms  "
            f"p95={percentile(values, 0.95):8.2f} ms  max={max(values, default=0.0):8.2f} ms"
        )

    outcomes = Counter(t.outcome for t in timings)
    print(f"{label}: outcomes {dict(sorted(outcomes.items()))}")
    print(line("time to first sentence", first_sentences(timings)))
    print(line("time to turn.completed", [t.completed_ms for t in timings]))
    steps = sorted({step for t in timings for step in t.server_ms})
    medians = [
        f"{step}={percentile([t.server_ms[step] for t in timings if step in t.server_ms], 0.5):.1f}"
        for step in steps
    ]
    print(f"  server-side steps, p50 ms: {' '.join(medians)}")
    answered = [t for t in timings if t.outcome == "answered"]
    if len(answered) != len(timings):
        print(line("time to first sentence (answered)", first_sentences(answered)))


if __name__ == "__main__":
    main()

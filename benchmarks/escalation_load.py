"""Escalation load: N concurrent escalating turns on POST /v1/ask, each booking an
appointment; throughput, time to a booked appointment, and a double-booking check.

The server runs in its own process (the real app under uvicorn, on loopback, on a
temporary data directory). The questions are the labelled ones the corpus cannot answer
(low confidence, not a request for a person), so each turn opens an escalation and books
a routine appointment. After the run the appointment book is read from the server's
database: no (clinician, start) may be booked twice and every appointment id a response
carried must be distinct and booked. Exit code 1 when either check fails.

    python benchmarks/escalation_load.py [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from live_server import free_port, register_patients, serve, stop, wait_ready

from app.operations.evaluation import DEFAULT_QUESTIONS, load_questions, percentile

REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Reply:
    status: int
    elapsed_ms: float
    outcome: str | None
    appointment: dict[str, Any] | None
    timings_ms: dict[str, float]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--concurrency", "-n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [
        q.question
        for q in load_questions(args.questions)
        if q.expected == "escalated" and "person_request" not in q.tags
    ]
    if not questions:
        raise SystemExit("no low-confidence questions in the question set")
    if args.concurrency < 1 or args.rounds < 1:
        raise SystemExit("--concurrency and --rounds must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(tmp, str(args.corpus.resolve()), port), daemon=True
        )
        started = time.perf_counter()
        server.start()
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, server)
            print(f"server ready in {time.perf_counter() - started:.1f} s (ingest included)")
            patients = register_patients(tmp, args.concurrency * args.rounds + 1)
            replies, wall = asyncio.run(
                run(base, questions, patients, args.concurrency, args.rounds)
            )
        finally:
            stop(server)
        ok = report(replies, wall, args.concurrency, args.rounds)
        ok = check_book(Path(tmp) / "aftercare.db", replies) and ok
    if not ok:
        sys.exit(1)


async def run(
    base: str,
    questions: list[str],
    patients: list[tuple[str, str]],
    concurrency: int,
    rounds: int,
) -> tuple[list[Reply], float]:
    """Every reply (warm-up first) and the wall time of the measured rounds.

    Each turn is a different registered patient's: one patient's escalations of one kind
    share one open escalation, and unidentified callers are never booked."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        warm = [await ask(client, questions[0], patients[-1])]
        replies: list[Reply] = []
        wall = 0.0
        for round_number in range(rounds):
            batch = [
                (
                    questions[(round_number * concurrency + i) % len(questions)],
                    patients[round_number * concurrency + i],
                )
                for i in range(concurrency)
            ]
            t0 = time.perf_counter()
            replies.extend(await asyncio.gather(*(ask(client, q, p) for q, p in batch)))
            wall += time.perf_counter() - t0
    return warm + replies, wall


async def ask(client: httpx.AsyncClient, question: str, patient: tuple[str, str]) -> Reply:
    patient_id, key = patient
    t0 = time.perf_counter()
    response = await client.post(
        "/v1/ask",
        json={"question": question, "patient_id": patient_id},
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        return Reply(response.status_code, elapsed, None, None, {})
    body = response.json()
    escalation = body.get("escalation") or {}
    timings = {k: float(v) for k, v in body["timings_ms"].items()}
    return Reply(200, elapsed, body["outcome"], escalation.get("appointment"), timings)


def report(replies: list[Reply], wall: float, concurrency: int, rounds: int) -> bool:
    measured = replies[1:]  # the first is the warm-up

    def line(label: str, values: list[float]) -> str:
        return (
            f"  {label:<34} n={len(values):4d}  p50={percentile(values, 0.5):8.2f} ms  "
            f"p95={percentile(values, 0.95):8.2f} ms  max={max(values, default=0.0):8.2f} ms"
        )

    booked = [r for r in measured if r.appointment is not None]
    statuses = Counter(r.status for r in measured)
    outcomes = Counter(r.outcome for r in measured if r.outcome is not None)
    print(f"{rounds} round(s) of {concurrency} concurrent escalating turns on POST /v1/ask")
    print(f"  HTTP statuses {dict(sorted(statuses.items()))}")
    print(f"  outcomes {dict(sorted(outcomes.items()))}")
    print(f"  throughput: {len(measured) / wall:.1f} turns/s ({len(measured)} in {wall:.1f} s)")
    print(line("whole request", [r.elapsed_ms for r in measured]))
    print(line("time to a booked appointment", [r.elapsed_ms for r in booked]))
    timings = [r.timings_ms for r in booked]
    steps = sorted({step for t in timings for step in t})
    medians = [
        f"{step}={percentile([t[step] for t in timings if step in t], 0.5):.1f}" for step in steps
    ]
    print(f"  server-side steps of booked turns, p50 ms: {' '.join(medians)}")
    print(f"  appointments booked: {len(booked)} of {len(measured)}")
    return statuses == Counter({200: len(measured)})


def check_book(database: Path, replies: list[Reply]) -> bool:
    """No slot booked twice; every appointment a response carried is distinct and booked."""
    ids = [str(r.appointment["id"]) for r in replies if r.appointment is not None]
    repeated_ids = [key for key, count in Counter(ids).items() if count > 1]
    with sqlite3.connect(database) as conn:
        doubles = conn.execute(
            "SELECT clinician_id, start, COUNT(*) FROM appointments WHERE status = 'booked' "
            "GROUP BY clinician_id, start HAVING COUNT(*) > 1"
        ).fetchall()
        stored = {
            row[0] for row in conn.execute("SELECT id FROM appointments WHERE status = 'booked'")
        }
    missing = [i for i in ids if i not in stored]
    print(f"  booked appointments in the database: {len(stored)}")
    print(f"double bookings: {len(doubles)}")
    for clinician_id, start, count in doubles:
        print(f"  {clinician_id} at {start}: booked {count} times")
    print(f"repeated appointment ids in responses: {len(repeated_ids)}")
    print(f"response appointments missing from the book: {len(missing)}")
    return not doubles and not repeated_ids and not missing


if __name__ == "__main__":
    main()

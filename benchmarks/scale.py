"""Scaling: POST /v1/ask throughput and p95 with 1, 2 and 4 web workers against a Chroma server
(and PostgreSQL when given), beside the embedded all-in-one default in the same run; then
concurrent escalating turns spread over 4 web workers: double bookings and p95 to a booked
appointment. Also the resident memory of each web worker.

Every part is a real process on loopback: ``aftercare serve`` (the default: embedded Chroma,
SQLite, one process), and the scaled deployment of ``app.operations.local_topology``: ``chroma
run``, one ``aftercare worker`` and ``aftercare serve --workers N`` with
``AFTERCARE_ROLE=web``.

    python benchmarks/scale.py [--requests 200] [--concurrency 16] [--workers 1,2,4]
        [--escalations 200] [--postgres-url URL | --postgres]

``--postgres`` starts a PostgreSQL cluster of its own (Debian's initdb); ``--postgres-url``
(or ``AFTERCARE_TEST_POSTGRES_URL``) uses an existing, empty database. Exit 1 when a request
fails or a slot is booked twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import text

from app.operations.evaluation import DEFAULT_QUESTIONS, load_questions, percentile
from app.operations.local_topology import (
    READY_TIMEOUT_S,
    free_port,
    role_env,
    spawn,
    start_chroma,
    start_postgres,
    stop,
    stop_postgres,
    wait_for_scheduler,
    wait_until,
)

UNLIMITED = {
    f"AFTERCARE_SECURITY__{name}": "1000000/minute"
    for name in ("RATE_ASK", "RATE_CHAT", "RATE_VOICE", "RATE_AVATAR", "RATE_AUTH_FAILURES")
}
QUIET = {"AFTERCARE_LOG_LEVEL": "ERROR", "AFTERCARE_ESCALATION__ALERT_BURST_WINDOW_S": "0"}
TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Reply:
    status: int
    elapsed_ms: float
    outcome: str | None
    appointment_id: str | None


@dataclass(frozen=True)
class Run:
    label: str
    replies: list[Reply]
    wall_s: float
    rss_mb: list[float]

    @property
    def failed(self) -> int:
        return sum(r.status != 200 for r in self.replies)

    def line(self) -> str:
        times = [r.elapsed_ms for r in self.replies]
        memory = (
            f"{sum(self.rss_mb) / len(self.rss_mb):6.0f} MB x {len(self.rss_mb)}"
            if self.rss_mb
            else "-"
        )
        return (
            f"  {self.label:<34} {len(self.replies) / self.wall_s:7.1f} req/s  "
            f"p50 {percentile(times, 0.5):7.1f} ms  p95 {percentile(times, 0.95):7.1f} ms  "
            f"failed {self.failed}  RSS per web process {memory}"
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def web_processes(pid: int) -> list[int]:
    """The processes that serve: uvicorn's workers, or the server itself when it is one."""
    serving = [p for p in descendants(pid) if rss_mb(p) > 150]  # loaded a model
    return serving or [pid]


async def ask(
    client: httpx.AsyncClient, question: str, patient: tuple[str, str] | None = None
) -> Reply:
    body: dict[str, object] = {"question": question}
    headers = {}
    if patient is not None:
        body["patient_id"] = patient[0]
        headers["Authorization"] = f"Bearer {patient[1]}"
    t0 = time.perf_counter()
    try:
        response = await client.post("/v1/ask", json=body, headers=headers)
    except httpx.HTTPError:
        return Reply(0, (time.perf_counter() - t0) * 1000, None, None)
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        return Reply(response.status_code, elapsed, None, None)
    got = response.json()
    appointment = (got.get("escalation") or {}).get("appointment")
    return Reply(200, elapsed, got["outcome"], appointment["id"] if appointment else None)


async def load(
    base: str, questions: list[str], requests: int, concurrency: int
) -> tuple[list[Reply], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, limits=limits) as client:
        # Warm-up: enough fresh connections that every worker has answered at least once.
        await asyncio.gather(*(ask(client, questions[i % len(questions)]) for i in range(16)))
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> Reply:
            async with gate:
                return await ask(client, questions[i % len(questions)])

        t0 = time.perf_counter()
        replies = await asyncio.gather(*(one(i) for i in range(requests)))
        return list(replies), time.perf_counter() - t0


async def escalate(
    base: str, questions: list[str], patients: list[tuple[str, str]]
) -> tuple[list[Reply], float]:
    limits = httpx.Limits(max_connections=len(patients), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, limits=limits) as client:
        t0 = time.perf_counter()
        replies = await asyncio.gather(
            *(ask(client, questions[i % len(questions)], p) for i, p in enumerate(patients))
        )
        return list(replies), time.perf_counter() - t0


def register_patients(database_url: str, count: int) -> list[tuple[str, str]]:
    from app.people.directory import People
    from app.people.tables import protect_audit
    from escalation.database import create_tables, make_engine, make_sessionmaker

    engine = make_engine(database_url)
    create_tables(engine)
    protect_audit(engine)
    people = People(make_sessionmaker(engine), lambda: datetime.now(UTC))
    made = []
    for n in range(count):
        patient, key = people.add_patient(f"scale-{n}", f"Scale patient {n}")
        made.append((patient.id, key))
    engine.dispose()
    return made


def double_bookings(database_url: str) -> tuple[int, int]:
    """(slots booked more than once, booked appointments) in the deployment's book."""
    from escalation.database import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        doubles = conn.execute(
            text(
                "SELECT clinician_id, start, COUNT(*) FROM appointments WHERE status = 'booked' "
                "GROUP BY clinician_id, start HAVING COUNT(*) > 1"
            )
        ).fetchall()
        booked = conn.execute(
            text("SELECT COUNT(*) FROM appointments WHERE status = 'booked'")
        ).scalar_one()
    engine.dispose()
    return len(doubles), int(booked)


def serve(
    env: dict[str, str], port: int, workers: int | None, log: Path
) -> subprocess.Popen[bytes]:
    args = ["serve", "--port", str(port)]
    if workers is not None:
        args += ["--workers", str(workers)]
    process = spawn(args, env, log)
    wait_until(f"http://127.0.0.1:{port}/readyz", READY_TIMEOUT_S, process)
    return process


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--escalations", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("AFTERCARE_TEST_POSTGRES_URL"))
    parser.add_argument("--postgres", action="store_true", help="start a PostgreSQL of its own")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    labelled = load_questions(args.questions)
    answerable = [q.question for q in labelled if q.expected == "answered"]
    unanswerable = [
        q.question for q in labelled if q.expected == "escalated" and "person_request" not in q.tags
    ]
    corpus = str(args.corpus.resolve())
    runs: list[Run] = []
    ok = True
    print(
        f"{os.cpu_count()} CPU(s); {args.requests} answerable questions per run at "
        f"concurrency {args.concurrency}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # a PostgreSQL started as root runs as the postgres user
        common = {"AFTERCARE_CORPUS_DIR": corpus, **UNLIMITED, **QUIET}

        # The default: one process, embedded Chroma, SQLite.
        embedded_env = {
            "AFTERCARE_DATA_DIR": str(root / "embedded"),
            "HF_HUB_OFFLINE": "1",
            **common,
        }
        port = free_port()
        server = serve(embedded_env, port, None, root / "embedded.log")
        try:
            replies, wall = asyncio.run(
                load(f"http://127.0.0.1:{port}", answerable, args.requests, args.concurrency)
            )
            runs.append(Run("embedded default (1 process)", replies, wall, [rss_mb(server.pid)]))
            print(runs[-1].line(), flush=True)
        finally:
            stop_group(server)

        # The scaled deployment.
        postgres_dir = root / "postgres" if args.postgres else None
        database_url = args.postgres_url
        if postgres_dir is not None:
            database_url = start_postgres(postgres_dir, free_port())
        store = "PostgreSQL" if database_url else "SQLite"
        database_url = database_url or f"sqlite:///{root / 'scaled' / 'data' / 'aftercare.db'}"
        chroma_port = free_port()
        chroma = start_chroma(root / "chroma", chroma_port, root / "chroma.log")
        env = {**role_env(root / "scaled", database_url, chroma_port), **common}
        worker = spawn(["worker"], {**env, "AFTERCARE_ROLE": "worker"}, root / "worker.log")
        try:
            wait_for_scheduler(env, worker)
            for count in counts:
                port = free_port()
                web = serve({**env, "AFTERCARE_ROLE": "web"}, port, count, root / f"web{count}.log")
                try:
                    replies, wall = asyncio.run(
                        load(
                            f"http://127.0.0.1:{port}", answerable, args.requests, args.concurrency
                        )
                    )
                    memory = [rss_mb(p) for p in web_processes(web.pid)]
                    label = f"{count} web worker(s), Chroma server, {store}"
                    runs.append(Run(label, replies, wall, memory))
                    print(runs[-1].line(), flush=True)
                finally:
                    stop_group(web)

            patients = register_patients(database_url, args.escalations)
            port = free_port()
            web = serve({**env, "AFTERCARE_ROLE": "web"}, port, 4, root / "web-escalations.log")
            try:
                replies, wall = asyncio.run(
                    escalate(f"http://127.0.0.1:{port}", unanswerable, patients)
                )
            finally:
                stop_group(web)
            doubles, booked_in_book = double_bookings(database_url)
        finally:
            stop_group(worker)
            stop(chroma)
            if postgres_dir is not None:
                stop_postgres(postgres_dir)

    booked = [r for r in replies if r.appointment_id is not None]
    statuses = Counter(r.status for r in replies)
    repeated = len(booked) - len({r.appointment_id for r in booked})
    print(f"{args.escalations} concurrent escalating turns over 4 web workers ({store}):")
    outcomes = Counter(r.outcome for r in replies if r.outcome is not None)
    print(f"  HTTP statuses {dict(sorted(statuses.items()))}; wall {wall:.1f} s")
    print(f"  outcomes {dict(sorted(outcomes.items()))} ({len(replies) / wall:.1f} turns/s)")
    print(f"  booked {len(booked)} (the book holds {booked_in_book})")
    print(
        f"  time to a booked appointment: p50 "
        f"{percentile([r.elapsed_ms for r in booked], 0.5):.0f} ms, p95 "
        f"{percentile([r.elapsed_ms for r in booked], 0.95):.0f} ms"
    )
    print(f"  double bookings: {doubles}; appointment ids repeated in replies: {repeated}")
    ok = ok and doubles == 0 and repeated == 0 and statuses == Counter({200: len(replies)})
    ok = ok and all(run.failed == 0 for run in runs)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()

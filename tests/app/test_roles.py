"""Roles across real processes on loopback: web workers that only serve, one worker process
that schedules, and the lock that keeps it one.

The deployment here is a Chroma server, a SQLite database (PostgreSQL when
``AFTERCARE_TEST_POSTGRES_URL`` names one), ``aftercare worker`` and ``aftercare serve
--workers 2`` with ``AFTERCARE_ROLE=web``, each a subprocess of the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.operations.local_topology import free_port, spawn, stop, wait_until
from app.operations.roles import worker_status
from app.settings import Settings
from tests.support.databases import POSTGRES_ENV, fresh_postgres, migrate

from .conftest import Receiver
from .engines import chroma_server

FIXTURES = Path(__file__).parents[1] / "fixtures"
STALE_S = 20  # beats every 5 s; a killed worker's lock is free 20 s after its last beat
READY_S = 600.0
STAIRS = """---
id: stairs
title: Stairs and steps
version: "1.0"
status: approved
reviewed_by: Test team
reviewed_on: 2026-01-10
review_due: 2027-01-10
sources:
  - "Test team: home recovery leaflet"
---
# Stairs and steps

## Climbing stairs
You can climb stairs from the day you get home. Take them slowly, one step at a time, and hold
the handrail.
"""


def _eventually(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


def _output(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


class Deployment:
    def __init__(self, root: Path, env: dict[str, str], receiver: Receiver) -> None:
        self.root = root
        self.env = env
        self.receiver = receiver
        self.processes: list[subprocess.Popen[bytes]] = []
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(env["AFTERCARE_DATA_DIR"]),
            database_url=env.get("AFTERCARE_DATABASE_URL"),
            scheduler_lock_stale_s=STALE_S,
        )

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        process = spawn(list(args), {**self.env, **extra}, self.root / f"{name}.log")
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return _output(self.root / f"{name}.log")

    def holder_pid(self) -> int | None:
        status = worker_status(self.settings)
        return None if status is None or status["stale"] else int(status["pid"])

    def alerts_for(self, escalation_id: str) -> int:
        return sum(escalation_id in body.decode() for _, body in self.receiver.received)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", corpus)
    receiver = Receiver()
    with chroma_server(tmp_path) as chroma:
        env = {
            "AFTERCARE_DATA_DIR": str(tmp_path / "data"),
            "AFTERCARE_CORPUS_DIR": str(corpus),
            **chroma.env(),
            "AFTERCARE_ESCALATION__WEBHOOK_URL": receiver.url,
            "AFTERCARE_ESCALATION__WEBHOOK_SECRET": "roles-secret",
            "AFTERCARE_ESCALATION__ALERT_BURST_WINDOW_S": "0",
            "AFTERCARE_SCHEDULER_LOCK_STALE_S": str(STALE_S),
            "AFTERCARE_INGESTION__REINGEST_INTERVAL_S": "3",
            "AFTERCARE_INDEX_REFRESH_S": "2",
            "AFTERCARE_SECURITY__RATE_ASK": "10000/minute",
            "AFTERCARE_LOG_LEVEL": "WARNING",
        }
        postgres = os.environ.get(POSTGRES_ENV)
        with contextlib.ExitStack() as stack:
            if postgres:
                env["AFTERCARE_DATABASE_URL"] = stack.enter_context(fresh_postgres(postgres))
            migrate(env)
            deployed = Deployment(tmp_path, env, receiver)
            try:
                yield deployed
            finally:
                deployed.close()
                receiver.close()


def _ask(base: str, question: str) -> dict[str, object]:
    response = httpx.post(base + "/v1/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _escalation_id(body: dict[str, object]) -> str:
    assert body["outcome"] == "escalated", body
    escalation = body["escalation"]
    assert isinstance(escalation, dict)
    return str(escalation["id"])


def test_web_workers_serve_while_one_worker_schedules_and_a_dead_ones_lock_is_taken_over(
    deployment: Deployment,
) -> None:
    first = deployment.start("worker-1", "worker")
    _eventually(lambda: deployment.holder_pid() == first.pid, 120, "the worker holds the lock")

    # A second worker started by mistake refuses at once and names the first.
    mistaken = deployment.start("worker-2", "worker")
    assert mistaken.wait(120) == 1
    assert f"pid {first.pid}" in deployment.log("worker-2"), deployment.log("worker-2")

    port = free_port()
    web = deployment.start(
        "web", "serve", "--port", str(port), "--workers", "2", AFTERCARE_ROLE="web"
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(base + "/readyz", READY_S, web)

    answered = _ask(base, "How long does the catheter stay in?")
    assert answered["outcome"] == "answered", answered
    assert [s["doc_id"] for s in answered["sources"]] == ["catheter"]  # type: ignore[attr-defined]

    # An escalation raised in a web worker is delivered by the worker process, once.
    asked_for_person = _escalation_id(_ask(base, "I want to speak to a nurse please"))
    _eventually(lambda: deployment.alerts_for(asked_for_person) > 0, 60, "the alert went out")
    time.sleep(3)
    assert deployment.alerts_for(asked_for_person) == 1

    # Ingestion in the worker while the web workers keep answering: a new approved guide
    # is answered from within a re-ingest and an index refresh, and no request fails.
    (Path(deployment.env["AFTERCARE_CORPUS_DIR"]) / "stairs.md").write_text(STAIRS)
    cited: list[str] = []

    def stairs_cited() -> bool:
        body = _ask(base, "When can I climb stairs?")
        cited[:] = [s["doc_id"] for s in body.get("sources") or []]  # type: ignore[attr-defined]
        return "stairs" in cited

    _eventually(stairs_cited, 90, "the web workers answer from the newly ingested guide")

    # The worker dies without a word: the web workers still serve, and their alerts wait.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    waiting = _escalation_id(_ask(base, "Can I take my dog to the dentist on a Sunday?"))
    time.sleep(3)
    assert deployment.alerts_for(waiting) == 0, "a web worker delivered an alert"

    # On the same host its process is known to be gone: the next worker takes over at once
    # (well before the heartbeat goes stale) and delivers what waited, once.
    successor = deployment.start("worker-4", "worker")
    _eventually(lambda: deployment.holder_pid() == successor.pid, 120, "the lock is taken over")
    assert successor.poll() is None, deployment.log("worker-4")
    _eventually(lambda: deployment.alerts_for(waiting) > 0, 120, "the waiting alert went out")
    time.sleep(3)
    assert deployment.alerts_for(waiting) == 1
    assert deployment.alerts_for(asked_for_person) == 1

    # A clean stop gives the lock back.
    stop(successor)
    assert successor.returncode == 0
    assert worker_status(deployment.settings) is None


def test_serve_refuses_topologies_that_would_schedule_twice(deployment: Deployment) -> None:
    port = str(free_port())
    several_all = deployment.start("all", "serve", "--port", port, "--workers", "2")
    assert several_all.wait(120) == 1
    assert "AFTERCARE_ROLE=web" in deployment.log("all")

    embedded = deployment.start(
        "embedded",
        "serve",
        "--port",
        port,
        "--workers",
        "2",
        AFTERCARE_ROLE="web",
        AFTERCARE_INGESTION__CHROMA_HOST="",
    )
    assert embedded.wait(120) == 1
    assert "need a Chroma server" in deployment.log("embedded")

    worker = deployment.start("worker", "worker")
    _eventually(lambda: deployment.holder_pid() == worker.pid, 120, "the worker holds the lock")
    all_in_one = deployment.start("all-in-one", "serve", "--port", port)
    assert all_in_one.wait(120) == 1
    assert f"pid {worker.pid}" in deployment.log("all-in-one")


def test_a_worker_without_its_chroma_server_says_so_and_frees_the_lock(
    deployment: Deployment,
) -> None:
    nobody = str(free_port())
    worker = deployment.start("worker", "worker", AFTERCARE_INGESTION__CHROMA_PORT=nobody)
    assert worker.wait(300) == 1
    said = deployment.log("worker")
    assert "cannot start: cannot open the corpus index at 127.0.0.1" in said, said
    assert worker_status(deployment.settings) is None

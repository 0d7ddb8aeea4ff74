"""Real engines for the deployment tests: a Chroma server on loopback (and PostgreSQL when one
is given), started and stopped by the tests.

A Chroma server comes from ``AFTERCARE_TEST_CHROMA_PORT`` (CI starts one with
``.ci/chroma.sh``), else the tests start ``chroma run`` on a free port. Without the ``chroma``
command the tests skip, except under ``CI=true``, where they fail: CI must run them.
``AFTERCARE_TEST_POSTGRES_URL`` adds a PostgreSQL run where a test takes a database URL.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.operations.local_topology import chroma_executable, free_port, start_chroma, stop


def require_chroma() -> str:
    """The ``chroma`` command, or skip (fail under CI)."""
    executable = chroma_executable()
    if executable is None:
        message = "the `chroma` command (chromadb's CLI) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the Chroma server tests")
        pytest.skip(message)
    return executable


@dataclass
class ChromaServer:
    port: int
    collection: str  # a fresh collection name: a shared server serves many tests
    process: subprocess.Popen[bytes] | None
    path: Path | None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def ingestion_settings(self) -> dict[str, object]:
        return {"chroma_host": self.host, "chroma_port": self.port, "collection": self.collection}

    def env(self) -> dict[str, str]:
        return {
            "AFTERCARE_INGESTION__CHROMA_HOST": self.host,
            "AFTERCARE_INGESTION__CHROMA_PORT": str(self.port),
            "AFTERCARE_INGESTION__COLLECTION": self.collection,
        }

    def stop(self) -> None:
        assert self.process is not None, "only a server the test started can be stopped"
        stop(self.process)

    def restart(self) -> None:
        assert self.path is not None
        self.process = start_chroma(self.path, self.port)


@contextmanager
def chroma_server(tmp: Path, own: bool = False) -> Iterator[ChromaServer]:
    """A Chroma server for one test: CI's shared one, or one of its own (always when ``own``,
    for tests that stop it)."""
    collection = "t" + uuid.uuid4().hex[:12]
    shared = os.environ.get("AFTERCARE_TEST_CHROMA_PORT")
    if shared and not own:
        port = int(shared)
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            pytest.fail(f"AFTERCARE_TEST_CHROMA_PORT={port} but no Chroma server answers: {exc}")
        yield ChromaServer(port, collection, None, None)
        return
    require_chroma()
    port = free_port()
    path = tmp / "chroma-server"
    server = ChromaServer(port, collection, start_chroma(path, port), path)
    try:
        yield server
    finally:
        if server.process is not None:
            stop(server.process)


def database_urls(tmp: Path) -> list[str]:
    """SQLite always; PostgreSQL too when ``AFTERCARE_TEST_POSTGRES_URL`` names one."""
    urls = [f"sqlite:///{tmp / 'lock.db'}"]
    postgres = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
    if postgres:
        urls.append(postgres)
    return urls

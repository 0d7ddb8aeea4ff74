"""`make scale-up`'s command: the scaled topology as local processes (PostgreSQL when Debian's
server is installed, else SQLite; a Chroma server; 2 web workers; 1 worker), answered by
`aftercare ask --server`, then stopped by `down` with nothing left running."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.operations.local_topology import aftercare_command, down, free_port, postgres_binary, up

from .engines import require_chroma


def _postgres_installed() -> bool:
    try:
        postgres_binary("initdb")
    except RuntimeError:
        return False
    return True


@pytest.fixture
def root() -> Iterator[Path]:
    # Not under pytest's private tmp: a cluster started as root runs as the postgres user.
    path = Path(tempfile.mkdtemp(prefix="aftercare-scale-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_scale_up_answers_and_scale_down_stops_everything(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chroma()
    if os.environ.get("CI") == "true" and not _postgres_installed():
        pytest.fail("CI must have PostgreSQL for the scaled topology")
    port = free_port()
    corpus = Path(__file__).parents[1] / "fixtures" / "corpus"
    monkeypatch.setenv("AFTERCARE_CORPUS_DIR", str(corpus))  # every process inherits it
    try:
        topology = up(root, port, web_workers=2, sqlite=not _postgres_installed())
        recorded = json.loads((root / "topology.json").read_text())
        assert set(recorded["pids"]) == {"chroma", "worker", "web"}
        asked = subprocess.run(
            [
                *aftercare_command(),
                "ask",
                "--server",
                topology.base_url,
                "--json",
                "How long does the catheter stay in?",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **topology.env},
        )
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout)
        assert answer["outcome"] == "answered"
        assert [s["doc_id"] for s in answer["sources"]] == ["catheter"]
    finally:
        down(root)
    assert not (root / "topology.json").exists()
    assert not any(_alive(pid) for pid in recorded["pids"].values())

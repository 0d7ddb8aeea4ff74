"""Administration commands load only the database layer: no model, no index, no web stack.

Timing is left to benchmarks/cli_startup.py; here the cause of a slow start is checked
directly: which heavy packages the command imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "chromadb", "llama_index", "sklearn", "fastapi")

PROBE = """
import json, sys
from app.operations.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def run_probe(data: Path, *args: str) -> tuple[str, dict[str, object]]:
    env = {**os.environ, "AFTERCARE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("AFTERCARE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, report


@pytest.mark.parametrize(
    "args",
    [
        ("staff", "add", "--name", "Nurse Patel", "--role", "coordinator"),
        ("staff", "list"),
        ("patient", "add", "pt-light", "--name", "Mr Light", "--phone", "01223 123456"),
        ("patient", "link", "pt-light"),
        ("audit", "verify"),
        ("db", "current"),
        ("patient", "update", "pt-light", "--phone", "01223 654321"),
    ],
)
def test_administration_commands_import_nothing_heavy(
    tmp_path_factory: pytest.TempPathFactory, args: tuple[str, ...]
) -> None:
    data = tmp_path_factory.getbasetemp() / "light-data"
    if args[:2] in (("patient", "link"), ("patient", "update")):
        run_probe(data, "patient", "add", "pt-light", "--name", "Mr Light")
    out, report = run_probe(data, *args)
    assert report["heavy"] == [], f"{' '.join(args)} imported {report['heavy']}"
    assert report["code"] == 0, out


def test_patient_add_still_checks_input(tmp_path: Path) -> None:
    _, report = run_probe(tmp_path, "patient", "add", "pt-x", "--name", "X", "--phone", "12")
    assert report["code"] != 0
    assert report["heavy"] == []

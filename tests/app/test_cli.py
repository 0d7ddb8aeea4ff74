"""The `aftercare` command as a user runs it: a fresh process, real model, real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.contract import check_ask_object

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(FIXTURES / "corpus", root / "corpus")
    return root


def run(workdir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AFTERCARE_DATA_DIR": str(workdir / "data"),
        "AFTERCARE_CORPUS_DIR": str(workdir / "corpus"),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.operations.cli", *args],
        cwd=workdir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ingest_json_then_partial_failure_exit_3(workdir: Path) -> None:
    first = run(workdir, "ingest", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["counts"]["added"] == 3 and report["counts"]["failed"] == 0
    assert {d["doc_id"] for d in report["documents"]} == {"catheter", "driving", "psa"}

    broken = workdir / "corpus" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    (workdir / "corpus" / "broken.pdf.yaml").write_text("id: broken\n")
    second = run(workdir, "ingest", "--json")
    assert second.returncode == 3
    report = json.loads(second.stdout)
    failed = [d for d in report["documents"] if d["status"] == "failed"]
    assert [d["path"] for d in failed] == ["broken.pdf"] and failed[0]["error"]
    assert report["counts"]["unchanged"] == 3
    human = run(workdir, "ingest")
    assert human.returncode == 3 and "broken.pdf" in human.stdout
    broken.unlink()
    (workdir / "corpus" / "broken.pdf.yaml").unlink()


def test_ask_prints_one_object_per_question(workdir: Path) -> None:
    questions = workdir / "questions.txt"
    questions.write_text(
        "how long will the catheter stay in?\n"
        '{"question": "what dose of metformin should I take?", "id": 2}\n'
        "\n"
        "hello\n"
    )
    result = run(workdir, "ask", "--json", "--file", str(questions))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [b["outcome"] for b in lines] == ["answered", "escalated", "smalltalk"]
    for body in lines:
        check_ask_object(body)
    assert lines[0]["sources"][0]["doc_id"] == "catheter"


def test_ask_with_words_and_errors(workdir: Path) -> None:
    words = run(workdir, "ask", "--json", "when", "can", "I", "drive", "again?")
    assert words.returncode == 0, words.stderr
    (body,) = [json.loads(line) for line in words.stdout.splitlines()]
    assert body["question"] == "when can I drive again?"

    unknown = run(workdir, "ask", "--json", "--patient", "nobody", "hello")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    empty = run(workdir, "ask", "--json")
    assert empty.returncode == 1 and "no question" in empty.stderr
    bad = workdir / "bad.jsonl"
    bad.write_text('{"question": 5}\n')
    broken = run(workdir, "ask", "--json", "--file", str(bad))
    assert broken.returncode == 1 and "bad.jsonl:1" in broken.stderr

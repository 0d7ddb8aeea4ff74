"""`aftercare eval`: its figures on a small fixed set, and the perturbations it makes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from app.operations.calibration import choose_threshold, fit_weights
from app.operations.evaluation import (
    DEFAULT_QUESTIONS,
    Figures,
    LabelledQuestion,
    Observation,
    Targets,
    figures,
    load_questions,
    percentile,
    perturb,
)


def q(
    qid: str, expected: str, docs: tuple[str, ...] = (), tags: tuple[str, ...] = ()
) -> LabelledQuestion:
    return LabelledQuestion(qid, f"question {qid}", expected, docs, "holdout", tags)  # type: ignore[arg-type]


def test_figures_on_a_fixed_set() -> None:
    observations = [
        Observation(q("a1", "answered", ("cath",)), "answered", ("cath",), 10.0),
        Observation(q("a2", "answered", ("cath",)), "answered", ("other",), 20.0),  # wrong doc
        Observation(q("a3", "answered", ("psa",), ("general_danger",)), "red_flag", (), 30.0),
        Observation(q("a4", "answered", ("psa",)), "escalated", (), 40.0),
        Observation(q("e1", "escalated"), "escalated", (), 50.0),
        Observation(q("e2", "escalated"), "answered", ("cath",), 60.0),
        Observation(q("r1", "red_flag"), "red_flag", (), 70.0),
        Observation(q("r2", "red_flag"), "escalated", (), 80.0),
        Observation(q("s1", "smalltalk"), "smalltalk", (), 90.0),
        Observation(q("s2", "smalltalk"), "smalltalk", (), 100.0),
    ]
    f = figures(observations)
    assert f.questions == 10
    assert f.answered_correct == 0.25
    assert f.escalated == 0.5
    assert f.red_flag_recall == 0.5
    assert f.false_red_flag == 0.125  # 1 of the 8 questions that are not red flags
    assert f.false_red_flag_general == 1.0
    assert f.smalltalk == 1.0
    assert f.latency_p50_ms == 55.0
    assert f.latency_p95_ms == pytest.approx(95.5)
    assert {m["id"] for m in f.misses} == {"a2", "a3", "a4", "e2", "r2"}


def test_targets() -> None:
    good = Figures(10, 0.95, 0.96, 1.0, 0.0, 0.0, 1.0, 1.0, 2.0)
    assert Targets().missed(good) == []
    bad = Figures(10, 0.5, 0.9, 0.9, 0.1, 0.2, 1.0, 1.0, 2.0)
    assert len(Targets().missed(bad)) == 4


def test_percentile() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_perturbations_are_deterministic_and_varied() -> None:
    question = "How long will the catheter stay in after prostate surgery? My temp is 38.2."
    first = perturb(question, random.Random(1))
    assert first == perturb(question, random.Random(1))
    slipped, fillers, no_punct, lowered = first
    assert "cathedar" in slipped and "prostrate" in slipped
    assert "?" not in no_punct and "38.2" in no_punct
    assert lowered == question.lower()
    assert len(fillers.split()) > len(no_punct.split())


def test_loading_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "1", "question": "x", "expected": "maybe"}) + "\n")
    with pytest.raises(ValueError, match="unknown expected outcome"):
        load_questions(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"q\.jsonl:1"):
        load_questions(path)


def test_shipped_question_set_loads() -> None:
    questions = load_questions(DEFAULT_QUESTIONS)
    assert len(questions) >= 200
    assert {q.split for q in questions} == {"calibration", "holdout"}


def test_calibration_fit_separates_and_threshold_meets_the_escalation_target() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    good = rng.normal([1, 0.6, 0.6, 0.8, 0.2, 0.0], 0.05, size=(40, 6))
    bad = rng.normal([1, 0.3, 0.3, 0.2, 0.0, 0.5], 0.05, size=(40, 6))
    good[:, 0] = bad[:, 0] = 1.0
    x = np.vstack([good, bad])
    y = np.array([1] * 40 + [0] * 40, dtype=float)
    w = fit_weights(x, y)
    scores = list(1 / (1 + np.exp(-(x @ w))))
    assert min(scores[:40]) > max(scores[40:])
    threshold = choose_threshold(scores, [1] * 40 + [0] * 40, [False] * 40 + [True] * 40)
    assert all(s < threshold for s in scores[40:]) and all(s >= threshold for s in scores[:40])

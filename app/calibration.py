"""Fitting the confidence policy on the calibration half of the labelled question set.

Each question that reaches retrieval becomes one example: its signals, and whether
answering it would be right (expected 'answered' and the top passage comes from an
expected document). A logistic regression gives the weights; the threshold is the
highest one that still answers the most in-scope questions while escalating at least
the target share of must-escalate questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from escalation.policy import PolicyWeights, features, score

ESCALATE_TARGET = 0.95


def fit_weights(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (bias, column 0, is free)."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2 * len(y))
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def choose_threshold(
    scores: Sequence[float], labels: Sequence[int], must_escalate: Sequence[bool]
) -> float:
    """The threshold maximising right answers with must-escalate recall >= the target."""
    candidates = [*sorted(set(scores)), 1.0]
    best, best_right = 0.5, -1
    total_escalate = max(1, sum(must_escalate))
    for i, t in enumerate(candidates):
        escalated = sum(1 for s, m in zip(scores, must_escalate, strict=True) if m and s < t)
        if escalated / total_escalate < ESCALATE_TARGET:
            continue
        right = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= t)
        if right >= best_right:  # ties: the higher cut, escalating more
            # Halfway to the score below: the cut does not sit on a calibration example.
            below = candidates[i - 1] if i > 0 else t
            best, best_right = round((below + t) / 2, 4), right
    return best


def calibrate(services: Any, questions: Sequence[Any]) -> dict[str, Any]:
    from escalation.intents import is_smalltalk, wants_person
    from escalation.scope import needs_clinician
    from escalation.triage import triage

    rows: list[list[float]] = []
    labels: list[int] = []
    must_escalate: list[bool] = []
    for item in questions:
        if item.expected not in ("answered", "escalated"):
            continue
        text = item.question
        if (
            triage(text, services.clinic)
            or is_smalltalk(text)
            or wants_person(text)
            or needs_clinician(text)
        ):
            continue
        result = services.search.search(text)
        top_doc = result.passages[0].doc_id if result.passages else None
        rows.append(features(result.signals))
        labels.append(int(item.expected == "answered" and top_doc in item.docs))
        must_escalate.append(item.expected == "escalated")
    x, y = np.asarray(rows), np.asarray(labels, dtype=float)
    w = fit_weights(x, y)
    weights = PolicyWeights(*(round(float(v), 3) for v in w))

    scores = [score(f, weights) for f in rows]
    threshold = choose_threshold(scores, labels, must_escalate)
    return {"questions": len(rows), "weights": asdict(weights), "threshold": threshold}

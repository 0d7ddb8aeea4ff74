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

from escalation.danger_meaning import MeaningThresholds
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
    scores: Sequence[float],
    labels: Sequence[int],
    must_escalate: Sequence[bool],
    escalated_before: int = 0,
) -> float:
    """The threshold maximising right answers with must-escalate recall >= the target.

    ``escalated_before``: must-escalate questions the turn escalates before the policy (a
    request for a person, a clinician-only question); they count towards the target.
    """
    candidates = [*sorted(set(scores)), 1.0]
    best, best_right = 0.5, -1
    total_escalate = max(1, sum(must_escalate) + escalated_before)
    for i, t in enumerate(candidates):
        escalated = escalated_before + sum(
            1 for s, m in zip(scores, must_escalate, strict=True) if m and s < t
        )
        if escalated / total_escalate < ESCALATE_TARGET:
            continue
        right = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= t)
        if right >= best_right:  # ties: the higher cut, escalating more
            # Halfway to the score below: the cut does not sit on a calibration example.
            below = candidates[i - 1] if i > 0 else t
            best, best_right = round((below + t) / 2, 4), right
    return best


async def calibrate(services: Any, questions: Sequence[Any]) -> dict[str, Any]:
    """Fit the policy weights, its threshold and the danger-sign meaning thresholds on
    ``questions`` (the calibration halves only), through the turn's own reading of each."""
    assistant = services.assistant
    rows: list[list[float]] = []
    labels: list[int] = []
    must_escalate: list[bool] = []
    unanswerable: list[bool] = []
    escalated_before = 0
    flags: list[float] = []
    others: list[tuple[float, bool]] = []
    for item in questions:
        probe = await assistant.probe(item.question)
        best = _best_similarity(probe.matches)
        if item.expected == "red_flag":
            if probe.red_flag is None:
                flags.append(best)
        elif probe.red_flag is None:
            others.append((best, probe.danger_support))
        if item.expected == "escalated" and probe.routed and probe.red_flag is None:
            escalated_before += 1
        if item.expected not in ("answered", "escalated") or probe.routed:
            continue
        assert probe.signals is not None
        # The policy judges retrieval: is the answer drawn from a guide that answers it?
        # Whether the spoken sentences hold what was asked is the composer's part.
        right = bool(set(probe.doc_ids) & set(item.docs))
        rows.append(features(probe.signals))
        labels.append(int(item.expected == "answered" and right))
        must_escalate.append(item.expected == "escalated")
        # The composer finds no sentence of the asked kind: the turn escalates whatever the
        # policy says, so the threshold need not be raised to escalate it.
        unanswerable.append(probe.answer is None)
    x, y = np.asarray(rows), np.asarray(labels, dtype=float)
    w = fit_weights(x, y)
    weights = PolicyWeights(*(round(float(v), 3) for v in w))

    scores = [
        0.0 if none else score(f, weights) for f, none in zip(rows, unanswerable, strict=True)
    ]
    threshold = choose_threshold(scores, labels, must_escalate, escalated_before)
    meaning = choose_meaning_thresholds(flags, others)
    return {
        "questions": len(rows),
        "weights": asdict(weights),
        "threshold": threshold,
        "meaning": asdict(meaning),
        "meaning_examples": {"signs_missed_by_rules": len(flags), "not_signs": len(others)},
    }


FALSE_ALARM_LIMIT = 0.0
"""The share of calibration questions that are not danger signs the meaning detector may
flag: none. A false alarm sends a man to the on-call team at night for nothing."""


SAFETY = 0.03


def choose_meaning_thresholds(
    flags: Sequence[float], others: Sequence[tuple[float, bool]]
) -> MeaningThresholds:
    """The lowest thresholds that keep false alarms within the limit.

    ``flags``: best similarity of each danger sign the rules missed; ``others``: best
    similarity of each question that is not a danger sign, and whether the guides' danger
    section came first for it (the 'needs checking' level needs that support).
    """
    margin = MeaningThresholds().margin
    grid = [round(0.5 + 0.01 * i, 2) for i in range(46)]
    allowed = int(FALSE_ALARM_LIMIT * len(others))

    def alarms(t: float, supported_only: bool) -> int:
        return sum(1 for s, support in others if s >= t and (support or not supported_only))

    rule = next((t for t in grid if alarms(t, False) <= allowed), grid[-1])
    check = next((t for t in grid if t <= rule and alarms(t, True) <= allowed), rule)
    # A little above the last false alarm seen: unseen look-alikes sit close to seen ones.
    return MeaningThresholds(
        rule=round(min(rule + SAFETY, 0.95), 2),
        check=round(min(check + SAFETY, 0.95), 2),
        margin=margin,
    )


def _best_similarity(matches: Sequence[Any]) -> float:
    margin = MeaningThresholds().margin
    qualified = [m.similarity for m in matches if m.similarity - m.look_alike >= margin]
    return max(qualified, default=0.0)

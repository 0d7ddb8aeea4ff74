"""The confidence policy is a pure function of the retrieval signals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from escalation.policy import PolicyWeights, confidence, decide, features, score
from escalation.settings import EscalationSettings


@dataclass(frozen=True)
class S:
    top_score: float = 0.7
    best_sentence: float = 0.7
    overlap: float = 1.0
    margin: float = 0.2
    unknown: float = 0.0
    content_words: int = 3
    kind_match: float = 1.0


W = PolicyWeights()


def test_confidence_is_a_probability() -> None:
    for signals in (S(), S(top_score=0.0, best_sentence=0.0, overlap=0.0), S(unknown=1.0)):
        assert 0.0 <= confidence(signals, W) <= 1.0


def test_each_good_signal_raises_confidence() -> None:
    base = confidence(S(top_score=0.5, best_sentence=0.5, overlap=0.5, margin=0.1), W)
    for better in (
        S(top_score=0.7, best_sentence=0.5, overlap=0.5, margin=0.1),
        S(top_score=0.5, best_sentence=0.7, overlap=0.5, margin=0.1),
        S(top_score=0.5, best_sentence=0.5, overlap=0.9, margin=0.1),
        S(top_score=0.5, best_sentence=0.5, overlap=0.5, margin=0.4),
    ):
        assert confidence(better, W) > base


def test_words_the_corpus_never_saw_lower_confidence() -> None:
    assert confidence(S(unknown=0.5), W) < confidence(S(unknown=0.0), W)


def test_on_topic_but_unanswered_can_fall_below_threshold() -> None:
    # High cosine (same topic) but the question's words are not in the passage.
    on_topic_unanswered = S(
        top_score=0.55, best_sentence=0.45, overlap=0.2, margin=0.05, unknown=0.4
    )
    threshold = EscalationSettings().confidence_threshold
    assert decide(on_topic_unanswered, threshold, W).decision == "escalate"
    on_topic_answered = S(top_score=0.6, best_sentence=0.6, overlap=1.0, margin=0.1, unknown=0.0)
    assert decide(on_topic_answered, threshold, W).decision == "answer"


def test_threshold_decides() -> None:
    value = confidence(S(), W)
    assert decide(S(), value, W).decision == "answer"
    assert decide(S(), min(1.0, value + 0.01), W).decision == "escalate"


def test_no_content_words_never_answers() -> None:
    assert decide(S(content_words=0), 0.0001, W).decision == "escalate"


def test_score_matches_confidence() -> None:
    assert score(features(S()), W) == pytest.approx(confidence(S(), W))

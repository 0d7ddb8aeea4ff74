"""The `aftercare ask` JSON contract, checked field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

OUTCOMES = {"answered", "escalated", "red_flag", "smalltalk"}
KEYS = {
    "question",
    "outcome",
    "answer",
    "confidence",
    "sources",
    "red_flag",
    "escalation",
    "timings_ms",
}


def check_ask_object(body: dict[str, Any]) -> None:
    assert set(body) == KEYS, set(body) ^ KEYS
    assert body["outcome"] in OUTCOMES
    assert isinstance(body["answer"], str) and body["answer"].strip()
    assert not any(mark in body["answer"] for mark in ("**", "##", "](", "\n- "))
    for source in body["sources"]:
        assert set(source) == {"doc_id", "title", "section", "version", "score", "excerpt"}
        for key in ("doc_id", "title", "section", "version", "excerpt"):
            assert isinstance(source[key], str)
        assert isinstance(source["score"], float)
    timings = body["timings_ms"]
    assert "total" in timings and "triage" in timings
    outcome = body["outcome"]
    if outcome == "answered":
        assert body["sources"] and body["escalation"] is None and body["red_flag"] is None
    if outcome == "escalated":
        assert body["escalation"] is not None and body["red_flag"] is None
    if outcome == "red_flag":
        assert body["red_flag"] is not None and body["escalation"] is not None
        assert body["escalation"]["priority"] in {"urgent", "emergency"}
        assert body["red_flag"]["priority"] in {"urgent", "emergency"}
    if outcome == "smalltalk":
        assert body["escalation"] is None and body["red_flag"] is None and not body["sources"]
    if body["confidence"] is None:
        assert "retrieval" not in timings
    else:
        assert 0.0 <= body["confidence"] <= 1.0 and "retrieval" in timings
    escalation = body["escalation"]
    if escalation is not None:
        assert set(escalation) == {"id", "reason", "priority", "status", "appointment"}
        assert escalation["reason"] in {"low_confidence", "red_flag", "patient_request"}
        assert escalation["priority"] in {"routine", "urgent", "emergency"}
        appointment = escalation["appointment"]
        if appointment is not None:
            assert set(appointment) == {"id", "start", "end", "with"}
            assert datetime.fromisoformat(appointment["start"]) < datetime.fromisoformat(
                appointment["end"]
            )

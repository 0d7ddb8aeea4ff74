"""The pure parts of coordinator alerts: backoff and the words coordinators read."""

from __future__ import annotations

import pytest

from escalation.notifications import (
    coordinator_view,
    describe_event,
    describe_reason,
    retry_delay,
)


def test_backoff_grows_then_stays_at_its_cap() -> None:
    delays = [retry_delay(n, 5.0) for n in range(1, 9)]
    assert delays == [5.0, 30.0, 120.0, 600.0, 1800.0, 1800.0, 1800.0, 1800.0]


@pytest.mark.parametrize("base", [0.05, 1.0, 10.0])
def test_backoff_scales_with_the_base_delay_and_never_shrinks(base: float) -> None:
    delays = [retry_delay(n, base) for n in range(1, 12)]
    assert delays[0] == base
    assert delays == sorted(delays)


def test_backoff_treats_nonsense_attempt_counts_as_the_first() -> None:
    assert retry_delay(0, 5.0) == retry_delay(-3, 5.0) == 5.0


def test_reasons_read_as_words() -> None:
    assert describe_reason({"reason": "low_confidence"}) == (
        "the assistant was not sure of the answer"
    )
    assert describe_reason({"reason": "red_flag", "red_flag_rule": "blood_clots_in_urine"}) == (
        "danger sign: blood clots in urine"
    )
    assert describe_reason({"reason": "patient_request"}) == "the patient asked for a person"
    assert describe_reason({"reason": "something_new"}) == "something new"
    assert describe_reason({}) == "unspecified"


def test_events_read_as_words() -> None:
    assert describe_event("escalation.created") == "escalation"
    assert describe_event("escalation.acknowledged") == "escalation acknowledged"
    assert describe_event("escalation.needs_attention") == "escalation needs attention"


def test_coordinator_view_keeps_what_coordinators_need() -> None:
    record = {
        "id": "e1",
        "priority": "urgent",
        "reason": "red_flag",
        "question": "q",
        "patient_id": None,
        "conversation": [{"role": "patient", "text": "t"}],
        "passages": [],
        "appointment": None,
    }
    assert coordinator_view(record) == {
        "id": "e1",
        "priority": "urgent",
        "reason": "red_flag",
        "question": "q",
        "patient_id": None,
        "appointment": None,
    }
    appointment = {"id": "a", "start": "s", "end": "e", "with": "nurse Patel"}
    assert coordinator_view({"appointment": appointment})["appointment"] == dict(
        appointment, status="booked"
    )

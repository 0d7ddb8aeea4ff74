"""The assistant's fixed hand-over and follow-up words carry the safety net, never false comfort."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.conversation.replies import booking_sentences, safety_net, urgent_follow_up
from escalation.clinic import ClinicConfig, Contacts

CLINIC = ClinicConfig(
    contacts=Contacts(
        emergency_number="112",
        on_call_phone="555 0100",
        on_call_name="the Riverside urology team",
        urgent_advice_number="811",
    )
)
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("clinician", "start"),
    [("nurse Patel", datetime(2026, 12, 3, 10, 0, tzinfo=UTC)), (None, None)],
)
def test_every_hand_over_ends_with_the_clinics_safety_net(
    clinician: str | None, start: datetime | None
) -> None:
    sentences = booking_sentences(clinician, start, NOW, CLINIC)
    last = sentences[-1]
    assert last == safety_net(CLINIC)
    assert "the Riverside urology team on 555 0100 now, day or night" in last
    assert "call 811 or go to A&E" in last and "call 112" in last
    assert "999" not in " ".join(sentences) and "111" not in " ".join(sentences)


def test_emergency_follow_up_says_no_help_is_on_its_way() -> None:
    text = urgent_follow_up("emergency", CLINIC)
    assert "will not call you straight away" in text
    assert "no one has been sent" in text
    assert "112 call yourself now" in text
    assert "not an emergency service" in text


def test_urgent_follow_up_asks_him_to_make_the_call() -> None:
    text = urgent_follow_up("urgent", CLINIC)
    assert "make that call yourself now" in text
    assert "straight away" not in text


def test_safety_net_wording_is_the_clinics_own() -> None:
    clinic = ClinicConfig.model_validate(
        {
            "urgency": {
                "urgent": "Ring {on_call_name} on {on_call_phone}, any hour.",
                "safety_net": "No answer? Try {urgent_advice_number}.",
            }
        }
    )
    assert safety_net(clinic) == (
        "If it cannot wait, ring the urology on-call team on 01223 000 000, any hour. "
        "No answer? Try 111."
    )

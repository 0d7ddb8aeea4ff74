"""The spoken instructions of red flags: the clinic's numbers and names, plain short
sentences, and the clinic's urgency vocabulary at each rule's priority."""

from __future__ import annotations

import re

import pytest

from escalation.clinic import (
    URGENCY_PRIORITY,
    ClinicConfig,
    Contacts,
    UrgencyVocabulary,
)
from escalation.triage import (
    RULES,
    Rule,
    triage,
)

CLINIC = ClinicConfig()


def test_instructions_carry_the_clinic_numbers() -> None:
    clinic = ClinicConfig(
        contacts=Contacts(
            emergency_number="911",
            on_call_phone="555 0100",
            on_call_name="the Riverside urology team",
            crisis_line_name="the 988 Lifeline",
            crisis_line_phone="988",
        )
    )
    urgent = triage("my catheter has stopped draining", clinic)
    assert urgent is not None and urgent.priority == "urgent"
    assert "555 0100" in urgent.instruction and "the Riverside urology team" in urgent.instruction
    assert "kinked" in urgent.instruction and "below your bladder" in urgent.instruction
    emergency = triage("I have chest pain", clinic)
    assert emergency is not None and emergency.priority == "emergency"
    assert "911" in emergency.instruction and "999" not in emergency.instruction
    crisis = triage("I want to end it all", clinic)
    assert crisis is not None and crisis.rule == "suicidal_thoughts"
    assert "the 988 Lifeline" in crisis.instruction and "988" in crisis.instruction
    assert "911" in crisis.instruction


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_instructions_are_plain_short_spoken_text(rule: Rule) -> None:
    text = rule.render(CLINIC)
    assert "{" not in text and "}" not in text
    assert not re.search(r"[*_#`\[\]]", text)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    assert 2 <= len(sentences) <= 7, text
    if rule.priority == "emergency":
        assert CLINIC.contacts.emergency_number in text
    if rule.priority == "urgent":
        assert CLINIC.contacts.on_call_phone in text
        # The safety net: on-call now; if no answer, 111 or A&E; emergency 999.
        assert CLINIC.urgency_phrases()["safety_net"] in text


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}-{r.priority}")
def test_instructions_use_the_urgency_vocabulary_at_their_priority(rule: Rule) -> None:
    levels = re.findall(r"\{urgency_(emergency|urgent|today|routine)\}", rule.instruction)
    assert levels, f"{rule.id}: says how soon to act outside the vocabulary"
    assert URGENCY_PRIORITY[levels[0]] == rule.priority, rule.id
    text = rule.render(CLINIC).lower()
    for stray in ("same day", "as soon as possible", "urgently", "within 24 hours"):
        assert stray not in text, (rule.id, stray)
    assert "on its way" not in text and "coming to you" not in text


def test_the_nurse_today_level_is_raised_as_urgent() -> None:
    flag = triage("my scrotum has swollen up really fast and it's tight", CLINIC)
    assert flag is not None and flag.rule == "scrotal_swelling" and flag.priority == "urgent"
    assert CLINIC.urgency_phrases()["today"] in flag.instruction
    assert flag.priority in ("emergency", "urgent", "routine")


def test_urgency_vocabulary_comes_from_the_clinic() -> None:
    clinic = ClinicConfig(
        contacts=Contacts(on_call_phone="555 0100", urgent_advice_number="811"),
        urgency=UrgencyVocabulary(
            urgent="Ring {on_call_name} on {on_call_phone} at once, day or night.",
            safety_net="No answer? Call {urgent_advice_number}. Emergency: {emergency_number}.",
        ),
    )
    flag = triage("my catheter has stopped draining", clinic)
    assert flag is not None
    assert "Ring the urology on-call team on 555 0100 at once, day or night." in flag.instruction
    assert "No answer? Call 811." in flag.instruction

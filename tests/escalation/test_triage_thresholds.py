"""Red-flag triage at the clinic's numbers: fever, blood in the urine, no urine, burning,
prolonged erection, and the two levels of bleeding on blood thinners."""

from __future__ import annotations

import pytest

from escalation.clinic import (
    ClinicConfig,
    TriageThresholds,
)
from escalation.triage import (
    flag_for_rule,
    triage,
)

CLINIC = ClinicConfig()


def _with_triage(**values: float) -> ClinicConfig:
    return ClinicConfig(triage=TriageThresholds(**values))


@pytest.mark.parametrize(
    ("text", "threshold", "fires"),
    [
        ("my temperature is 38.1", 38.0, True),
        ("my temperature is 38.1", 38.3, False),
        ("my temperature is 38.3", 38.3, True),
        ("my temperature is 37.9", 38.0, False),
        ("my temperature is 37.9", 37.8, True),
        ("I've got a fever of 101", 38.3, True),  # 101 F is 38.33 C
        ("I've got a fever of 101", 38.4, False),
        ("his temperature is 100.4 F", 38.0, True),
        ("his temperature is 100.2 F", 38.0, False),
        ("my temp is ninety nine point five", 37.5, True),
        ("my temp is ninety nine point five", 38.0, False),
    ],
)
def test_fever_threshold_comes_from_the_clinic(text: str, threshold: float, fires: bool) -> None:
    flag = triage(text, _with_triage(fever_celsius=threshold))
    assert (flag is not None and flag.rule == "fever") is fires


def test_low_reading_outweighs_feeling_hot() -> None:
    assert triage("I feel feverish but my temperature is 37.4", CLINIC) is None
    flag = triage("I feel feverish and my temperature is 38.4", CLINIC)
    assert flag is not None and flag.rule == "fever"


@pytest.mark.parametrize(
    ("text", "hours", "fires"),
    [
        ("my pee has been bright red for 30 hours", 24.0, True),
        ("my pee has been bright red for 30 hours", 48.0, False),
        ("my pee has been bright red for 10 hours", 8.0, True),
        ("my pee has been bright red for 10 hours", 24.0, False),
    ],
)
def test_red_urine_duration_comes_from_the_clinic(text: str, hours: float, fires: bool) -> None:
    flag = triage(text, _with_triage(bleeding_urine_hours=hours))
    assert (flag is not None and flag.rule == "clots_or_red_urine") is fires


def test_clots_fire_whatever_the_duration() -> None:
    flag = triage("a few clots in the bag since an hour ago", _with_triage(bleeding_urine_hours=72))
    assert flag is not None and flag.rule == "clots_or_red_urine"


@pytest.mark.parametrize(
    "text",
    [
        "my pee has been bright red for 2 hours and the catheter is still in",
        "the catheter bag has gone dark red like wine this morning",
        "the urine in my bag is bright red",
    ],
)
def test_red_urine_with_the_catheter_in_fires_at_once(text: str) -> None:
    flag = triage(text, _with_triage(bleeding_urine_hours=24))
    assert flag is not None and flag.rule == "clots_or_red_urine", text


@pytest.mark.parametrize(
    "text",
    [
        "a few small clots in the bag and the urine is pink",
        "there are tiny clots in my catheter bag",
        "my urine is pink with little bits of blood",
    ],
)
def test_pink_urine_and_small_clots_do_not_fire(text: str) -> None:
    assert triage(text, CLINIC) is None, text


@pytest.mark.parametrize(
    ("text", "hours", "rule"),
    [
        ("I haven't peed for 4 hours", 6.0, None),
        ("I haven't peed for 4 hours", 3.0, "cannot_pass_urine"),
        ("I haven't peed for 10 hours", 6.0, "cannot_pass_urine"),
        ("I haven't peed for 30 hours", 6.0, "sepsis_signs"),
    ],
)
def test_no_urine_durations_come_from_the_clinic(text: str, hours: float, rule: str | None) -> None:
    flag = triage(text, _with_triage(no_urine_hours_after_removal=hours))
    assert (flag.rule if flag else None) == rule


def test_burning_duration_comes_from_the_clinic() -> None:
    text = "it's been burning when I pee for 2 days"
    assert triage(text, _with_triage(burning_days=3)) is None
    flag = triage(text, _with_triage(burning_days=1.5))
    assert flag is not None and flag.rule == "urine_infection_signs"
    assert flag.priority == "routine"


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("I've been vomiting blood", "emergency"),
        ("my poo is black and sticky", "emergency"),
        ("I've got a huge bruise that keeps spreading since the injections", "urgent"),
    ],
)
def test_bleeding_on_blood_thinners_has_two_levels(text: str, priority: str) -> None:
    flag = triage(text, CLINIC)
    assert flag is not None and flag.rule == "anticoagulant_bleeding"
    assert flag.priority == priority


def test_prolonged_erection_threshold_comes_from_the_clinic() -> None:
    text = "my erection has lasted 3 hours since the injection"
    assert triage(text, CLINIC) is None
    flag = triage(text, _with_triage(prolonged_erection_hours=2.5))
    assert flag is not None and flag.rule == "prolonged_erection"
    assert flag.priority == "emergency" and "2.5 hours" in flag.instruction


@pytest.mark.parametrize(
    ("words", "priority"),
    [
        ("there is a huge bruise spreading across my tummy from the injections", "urgent"),
        ("I vomited blood and I'm on the blood thinner", "emergency"),
        ("bleeding on the blood thinners", "emergency"),
    ],
)
def test_a_rule_with_two_levels_takes_the_level_its_words_match(words: str, priority: str) -> None:
    flag = flag_for_rule("anticoagulant_bleeding", CLINIC, words)
    assert flag is not None and flag.priority == priority
    assert flag_for_rule("no_such_rule", CLINIC, words) is None


def test_fever_instruction_states_the_threshold() -> None:
    flag = triage("I've got a fever", _with_triage(fever_celsius=38.3))
    assert flag is not None and "38.3" in flag.instruction

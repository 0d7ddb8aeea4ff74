"""Red-flag triage on real phrasings: reports fire their rule, general questions,
negations and hypotheticals do not, the most severe match wins, and slips of speech
recognition are read through."""

from __future__ import annotations

import re

import pytest

from escalation.clinic import (
    ClinicConfig,
)
from escalation.triage import (
    PRIORITY_ORDER,
    RULES,
    RedFlag,
    normalise,
    triage,
)
from tests.escalation.triage_phrasings import FIRES, GENERAL, NEGATIONS

CLINIC = ClinicConfig()


CASES_FIRE = [(rule, text) for rule, texts in FIRES.items() for text in texts]
CASES_GENERAL = [(rule, text) for rule, texts in GENERAL.items() for text in texts]


def test_every_rule_is_covered() -> None:
    ids = [rule.id for rule in RULES]
    # One id may appear at two priorities (anticoagulant_bleeding), never twice at one.
    keyed = [(rule.id, rule.priority) for rule in RULES]
    assert len(keyed) == len(set(keyed))
    assert [i for i in set(ids) if ids.count(i) > 1] == ["anticoagulant_bleeding"]
    assert set(FIRES) == set(ids) == set(GENERAL)
    for rule in RULES:
        assert len(FIRES[rule.id]) >= 3 and len(GENERAL[rule.id]) >= 2, rule.id
        assert re.fullmatch(r"[a-z]+(?:_[a-z]+)*", rule.id)


def test_rules_are_ordered_by_severity() -> None:
    order = [PRIORITY_ORDER[rule.priority] for rule in RULES]
    assert order == sorted(order)


@pytest.mark.parametrize(("rule", "text"), CASES_FIRE)
def test_reports_fire_their_rule(rule: str, text: str) -> None:
    flag = triage(text, CLINIC)
    assert flag is not None, text
    assert flag.rule == rule, (text, flag)
    assert flag.matched


@pytest.mark.parametrize(("rule", "text"), CASES_GENERAL)
def test_general_questions_do_not_fire(rule: str, text: str) -> None:
    assert triage(text, CLINIC) is None, rule


@pytest.mark.parametrize("text", NEGATIONS)
def test_negations_do_not_fire(text: str) -> None:
    assert triage(text, CLINIC) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "When can I drive again?",
        "How long will the catheter stay in?",
        "What is a PSA test?",
        "hello",
        "Can I talk to a real person?",
        "Is it OK to have a bath with the catheter in?",
        "What should I eat to avoid constipation?",
    ],
)
def test_ordinary_questions_do_not_fire(text: str) -> None:
    assert triage(text, CLINIC) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("I have a fever and chest pain", "chest_pain"),
        ("I've been feeling low and now I've got a fever", "fever"),
        ("my catheter fell out and I want to kill myself", "suicidal_thoughts"),
        ("it burns when I pee for days and I'm coughing up blood", "coughing_blood"),
        ("My bag hasn't filled since lunch and my husband is confused", "sepsis_signs"),
    ],
)
def test_most_severe_match_wins(text: str, rule: str) -> None:
    flag = triage(text, CLINIC)
    assert flag is not None and flag.rule == rule


def test_red_flag_is_frozen_and_typed() -> None:
    flag = triage("The catheter just fell out.", CLINIC)
    assert isinstance(flag, RedFlag)
    assert flag.rule == "catheter_fallen_out" and flag.priority == "urgent"
    assert "fell out" in flag.matched
    with pytest.raises(AttributeError):
        flag.rule = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My bag hasn't filled since lunch!", "my bag has not filled since lunch ."),
        ("I'm burning up", "i am burning up ."),
        ("a hundred and one", "101 ."),
        ("thirty-eight point five degrees", "38.5 degrees ."),
        ("um, the cathedar, er, stopped", "the catheter , stopped ."),
        ("38,5°C?", "38.5 degrees c ?"),
        ("Dad's collapsed", "dad collapsed ."),
        ("nothing's coming out", "nothing is coming out ."),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_long_rambling_utterance_is_fast_and_correct() -> None:
    text = (
        "so um the nurse came yesterday and we talked about the bag and the leg straps "
        "and how to clean it and all that " * 20
    ) + "and now my calf is hot and swollen"
    flag = triage(text, CLINIC)
    assert flag is not None and flag.rule == "calf_clot_signs"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("i suddenly can't catch my berath.", "breathlessness"),
        ("dad's just collasped in the bathroom", "collapse_or_fainting"),
        ("i fianted this morning getting out of bed", "collapse_or_fainting"),
        ("i want to hurt msyelf", "suicidal_thoughts"),
        ("you know i suddenly can't catch my breath", "breathlessness"),
    ],
)
def test_swapped_letters_and_spoken_fillers_still_fire(text: str, rule: str) -> None:
    flag = triage(text, ClinicConfig())
    assert flag is not None and flag.rule == rule


@pytest.mark.parametrize(
    "text",
    [
        "you know what temperature counts as a fever",
        "sohuld i worry about blood clots in the pee bag, and what would i do?",
        "do you know what a fever is?",
        "the breadth of my bag strap is too narrow",
    ],
)
def test_swapped_letters_and_fillers_do_not_make_questions_reports(text: str) -> None:
    assert triage(text, ClinicConfig()) is None

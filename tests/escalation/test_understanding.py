"""Reading a message once: the focused question, the kind of answer asked, who asks, feelings."""

from __future__ import annotations

import pytest

from escalation.clinic import ClinicConfig
from escalation.intents import is_smalltalk, wants_person
from escalation.scope import needs_clinician
from escalation.triage import normalise, triage
from escalation.understanding import (
    answer_kind,
    feeling_in,
    holds_kind,
    is_question,
    plain_words,
    split_message,
    understand,
    weeks_since_surgery,
)

NARRATIVE = (
    "I had my prostate out eight months ago (RALP). My doctor said the leaking would stop by "
    "now but I still go through 3 Depends a day. I have tried Kegels. Is this normal? What "
    "else can I do?"
)


def test_a_short_question_is_used_whole() -> None:
    u = understand("When can I drive again?")
    assert u.focus == "When can I drive again?"
    assert u.kind == "when" and not u.long


def test_a_long_narrative_is_focused_on_its_question_with_the_context_it_needs() -> None:
    u = understand(NARRATIVE)
    assert u.long
    assert u.focus.endswith("What else can I do?")
    # The question alone says nothing about leaking: the sentence that does comes with it.
    assert "leaking" in u.focus and "pads" in u.focus
    assert "eight months ago" not in u.focus
    assert u.weeks_since_surgery == pytest.approx(34.8)
    assert u.kind == "how_to"


def test_the_first_real_question_is_answered_and_the_others_are_kept() -> None:
    u = understand(
        "Hi everyone. My husband had his operation six weeks ago and is doing well overall. "
        "When can he start driving again? Also, how do we get hold of more catheter bags?"
    )
    assert "driving" in u.focus
    assert u.other_questions and "catheter bags" in u.other_questions[0]
    assert u.speaker == "partner"


def test_forum_shorthand_is_written_as_the_guides_write_it() -> None:
    text = plain_words("Still wet 6 wks post-op after RALP, Kegels and Depends not helping, ED too")
    assert "weeks" in text and "after the operation" in text
    assert "robotic prostatectomy" in text and "pelvic floor exercises" in text
    assert "pads" in text and "erection problems" in text
    assert plain_words("the Da Vinci was quick") == "robotic surgery was quick"
    # Words that merely contain a shorthand are left alone.
    assert plain_words("I edited my notes") == "I edited my notes"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How long will the leaking last?", "when"),
        ("When will my erections come back?", "when"),
        ("how often should I do my pelvic floor exercises", "when"),
        ("How common is it for the cancer to come back?", "how_common"),
        ("What are the chances my erections recover?", "how_common"),
        ("Is it normal to feel this tired?", "normal"),
        ("Should I be worried about pink urine?", "normal"),
        ("Is it ok to drive with a catheter?", "can_i"),
        ("Can I have a bath?", "can_i"),
        ("How do I do pelvic floor exercises?", "how_to"),
        ("What else can I do about the leaking?", "how_to"),
        ("Why is my PSA still checked after surgery?", "why"),
        ("What is climacturia?", "what"),
        ("Thanks for the help", "other"),
    ],
)
def test_answer_kinds(question: str, kind: str) -> None:
    assert answer_kind(question) == kind


def test_strict_kinds_are_durations_and_proportions() -> None:
    assert understand("How long will I leak for?").strict
    assert understand("How common is leaking a year later?").strict
    assert not understand("When is bleeding an emergency?").strict
    assert not understand("Can I lift my grandson?").strict


@pytest.mark.parametrize(
    ("sentence", "kind", "holds"),
    [
        ("Most men are dry by 12 months.", "when", True),
        ("It usually takes 6 to 12 weeks.", "when", True),
        ("Wait until the catheter is out.", "when", True),
        ("Sex can still be part of your life after this operation.", "when", False),
        ("About 8 in 10 men are dry within a year.", "how_common", True),
        ("It is very common to feel worried.", "how_common", False),
        ("This is common in the first weeks and settles.", "normal", True),
        ("Do not lift anything heavy for 4 weeks.", "can_i", True),
        ("Squeeze the muscles as if stopping your wee.", "how_to", True),
        ("PSA tests check whether any cancer cells are left.", "why", True),
        ("Climacturia is when urine leaks at orgasm.", "what", True),
    ],
)
def test_guide_sentences_of_the_asked_kind(sentence: str, kind: str, holds: bool) -> None:
    assert holds_kind(sentence, kind) is holds  # type: ignore[arg-type]


def test_feelings() -> None:
    assert feeling_in("Why did no one tell me I would leak like this?") == "anger_at_team"
    assert feeling_in("I'm so fed up with these pads") == "frustration"
    assert feeling_in("I'm scared the cancer is back") == "fear"
    assert feeling_in("It's embarrassing to ask, but...") == "embarrassment"
    assert feeling_in("I feel less of a man") == "grief"
    assert feeling_in("When can I drive?") is None


def test_time_since_surgery() -> None:
    assert weeks_since_surgery("I had my op 6 weeks ago") == 6.0
    assert weeks_since_surgery("three months post op now") == pytest.approx(13.0)
    assert weeks_since_surgery("a year since my surgery") == pytest.approx(52.2)
    assert weeks_since_surgery("I have a question") is None


def test_sentences_of_any_style() -> None:
    assert split_message("i had surgery. now i leak? help") == [
        "i had surgery.",
        "now i leak?",
        "help",
    ]
    assert split_message("Dr. Smith said wait\nso I waited") == [
        "Dr. Smith said wait",
        "so I waited",
    ]
    assert is_question("any advice welcome")
    assert is_question("I was wondering if I can cycle")
    assert not is_question("Catheter comes out tomorrow!")


def test_bad_inputs_never_fail() -> None:
    only_context = understand("Catheter comes out tomorrow!")
    assert only_context.focus == "Catheter comes out tomorrow!"
    assert only_context.questions == ()
    shouting = understand("MY HUSBAND HAD HIS PROSTATE OUT LAST MONTH HOW LONG WILL HE LEAK FOR")
    assert shouting.kind == "when" and shouting.speaker == "partner"
    long_text = " ".join(["I had my operation and I am recovering slowly."] * 40) + (
        " When can I go back to work?"
    )
    assert len(long_text) > 1900
    u = understand(long_text)
    assert u.focus.endswith("When can I go back to work?")
    assert understand("").focus == ""


CLINIC = ClinicConfig()


@pytest.mark.parametrize(
    "text",
    [
        "My husband's temperature is thirty eight point five and he's shivering.",
        "Can I speak to a real person please?",
        "Thanks, that's all. Bye!",
        "My PSA went from .02 to .05, should I worry?",
        "Should I switch to 20 mg of tadalafil?",
        "What should I do if my catheter stops draining?",
    ],
)
def test_the_message_is_normalised_once_for_triage_intents_and_scope(text: str) -> None:
    understanding = understand(text)
    normalised = understanding.normalised
    assert normalised == normalise(text)
    assert triage(text, CLINIC, normalised=normalised) == triage(text, CLINIC)
    assert is_smalltalk(text, normalised) == is_smalltalk(text)
    assert wants_person(text, normalised) == wants_person(text)
    assert needs_clinician(text, normalised) == needs_clinician(text)
    found = (
        triage(text, CLINIC, normalised=normalised),
        is_smalltalk(text, normalised),
        wants_person(text, normalised),
        needs_clinician(text, normalised),
    )
    assert any(found) or "if my catheter" in text

"""Requests for a person and smalltalk are told apart from real questions."""

from __future__ import annotations

import pytest

from escalation.intents import is_smalltalk, wants_person

ASKS_FOR_A_PERSON = [
    "Can I talk to a real person?",
    "Put me through to a nurse please.",
    "I want to speak to someone",
    "get me a doctor",
    "is there a human I can talk to",
    "I want to speak to my doctor.",
    "Can somebody from the team ring me back?",
    "I'd rather talk to a human, if that's alright.",
    "get me nurse Patel",
    "Can I book an appointment with the consultant?",
    "This isn't helping at all. I want a proper person, now.",
    "can i speak with somebody, my english is not so good",
    "hi can I speak to a doctor please",
    "could you connect me with the care team",
    "I don't want to talk to a machine",
    "human",
    "a real person please",
    "please can someone call me back",
    "I want to talk to a nurse about my catheter",
    "um can I like talk to someone",
    "I need to speak to the nurse urgently",
    "my wife wants to talk to someone",
]

NOT_A_REQUEST = [
    "can I talk to my nurse about sex?",
    "should I talk to my doctor about my leaking?",
    "is it ok to talk to my doctor about this",
    "when will I see the consultant again?",
    "do I need to see a doctor about my erections",
    "I don't want to talk to a nurse",
    "are you a human?",
    "will you call me if my results are bad",
    "who should I call if my catheter falls out",
    "I'll talk to my GP about it",
    "When can I drive again?",
    "my nurse said the catheter comes out next week",
    "hello",
    "what does the doctor check at the first appointment?",
    "the nurse was lovely",
]

SMALLTALK = [
    ("hello", "greeting"),
    ("Hi there!", "greeting"),
    ("Good morning.", "greeting"),
    ("good afternoon", "greeting"),
    ("are you there", "greeting"),
    ("hello, is anyone there?", "greeting"),
    ("hey, how are you?", "greeting"),
    ("Thanks so much.", "thanks"),
    ("Thank you, that really helps.", "thanks"),
    ("cheers", "thanks"),
    ("thank you nurse", "thanks"),
    ("ok great, thanks a lot", "thanks"),
    ("bye for now", "goodbye"),
    ("Goodnight.", "goodbye"),
    ("Okay, thank you, that's all for today.", "goodbye"),
    ("thanks, bye", "goodbye"),
    ("Who are you?", "identity"),
    ("what are you", "identity"),
    ("are you a real person?", "identity"),
    ("hi, who am I talking to?", "identity"),
    ("Um, hello?", "greeting"),
]

NOT_SMALLTALK = [
    "hi, when can I drive?",
    "thanks, but what about swimming?",
    "what are your opening hours",
    "hello, my catheter has stopped draining",
    "good morning, is it normal to leak at night?",
    "yes",
    "no",
    "ok",
    "",
    "thank you, can I have a bath now?",
    "bye the way, how long does pink urine last",
    "who should I call at night?",
]


@pytest.mark.parametrize("text", ASKS_FOR_A_PERSON)
def test_requests_for_a_person(text: str) -> None:
    assert wants_person(text) is True


@pytest.mark.parametrize("text", NOT_A_REQUEST)
def test_not_requests_for_a_person(text: str) -> None:
    assert wants_person(text) is False


@pytest.mark.parametrize(("text", "kind"), SMALLTALK)
def test_smalltalk_kinds(text: str, kind: str) -> None:
    assert is_smalltalk(text) == kind


@pytest.mark.parametrize("text", NOT_SMALLTALK)
def test_real_questions_are_not_smalltalk(text: str) -> None:
    assert is_smalltalk(text) is None


def test_smalltalk_is_not_a_request_for_a_person() -> None:
    for text, _ in SMALLTALK:
        assert wants_person(text) is False, text

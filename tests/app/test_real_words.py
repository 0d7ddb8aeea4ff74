"""Messages as real people write them, through the live app: long stories, shouting, no
question at all, a danger sign beside a routine question, feelings."""

from __future__ import annotations

import time

import httpx

from app.conversation.turn_log import TurnFilter
from tests.app.conftest import LiveApp
from tests.app.contract import check_ask_object


def _ask(live_app: LiveApp, question: str) -> dict[str, object]:
    response = httpx.post(live_app.base_url + "/v1/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    check_ask_object(body)
    return body


def test_a_long_story_is_answered_from_its_question(live_app: LiveApp) -> None:
    body = _ask(
        live_app,
        "Hello, I hope someone can help. My husband had his operation nine days ago at the "
        "city hospital and the nurses were lovely. He is home now and walking a little each "
        "day, and he is eating well. His catheter is still in and he finds the bag awkward. "
        "Is he allowed to have a bath while the catheter is in?",
    )
    assert body["outcome"] == "answered"
    assert "bath" in str(body["answer"]).lower()


def test_a_message_with_no_question_gets_an_answer_or_an_invitation(live_app: LiveApp) -> None:
    body = _ask(live_app, "Catheter comes out tomorrow!")
    assert body["outcome"] in {"answered", "escalated"}
    assert str(body["answer"]).strip()


def test_a_long_message_of_many_sentences_is_taken(live_app: LiveApp) -> None:
    story = " ".join(f"On day {n} I walked a little further than before." for n in range(1, 40))
    question = (story + " How long does the catheter stay in?")[:2000]
    body = _ask(live_app, question)
    assert body["outcome"] in {"answered", "escalated"}


def test_shouting_without_punctuation_and_with_slips(live_app: LiveApp) -> None:
    body = _ask(live_app, "HOW LONG DOES THE CATHEDAR STAY IN AFTER THE OPERATION")
    assert body["outcome"] == "answered"
    assert "days" in str(body["answer"]).lower()


def test_a_danger_sign_beside_a_routine_question_wins(live_app: LiveApp) -> None:
    message = (
        "Since yesterday my left calf has been swollen, hot and really sore. "
        "Also, can I have a bath with the catheter in?"
    )
    body = _ask(live_app, message)
    assert body["outcome"] == "red_flag"
    escalation = body["escalation"]
    assert isinstance(escalation, dict) and escalation["priority"] in {"urgent", "emergency"}
    record = httpx.get(
        f"{live_app.base_url}/v1/escalations/{escalation['id']}",
        headers={"Authorization": f"Bearer {live_app.coordinator_key}"},
    ).json()
    # The routine question reaches the care team with the danger sign.
    assert "bath" in record["question"]


def test_a_danger_sign_in_other_words_is_never_answered_as_information(
    live_app: LiveApp,
) -> None:
    body = _ask(live_app, "Wee seems to be trickling out of my operation cut since this morning")
    assert body["outcome"] == "red_flag"
    red_flag = body["red_flag"]
    assert isinstance(red_flag, dict) and red_flag["priority"] in {"urgent", "emergency"}
    assert "now" in str(body["answer"]).lower()


def test_a_feeling_is_acknowledged_once_and_anger_is_recorded(live_app: LiveApp) -> None:
    question = (
        "Nobody told me the catheter would be so awkward. How long does the catheter stay in?"
    )
    body = _ask(live_app, question)
    answer = str(body["answer"])
    if body["outcome"] == "answered":
        assert answer.startswith("I'm sorry you were not told more about this")
        assert answer.count("I'm sorry") == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stored = [t for t in live_app.services.turns.query(TurnFilter()) if t.question == question]
        if stored:
            break
        time.sleep(0.05)
    assert stored and stored[0].feeling == "anger_at_team"


def test_no_acknowledgement_without_a_feeling(live_app: LiveApp) -> None:
    body = _ask(live_app, "How long does the catheter stay in?")
    assert not str(body["answer"]).startswith("I'm sorry")

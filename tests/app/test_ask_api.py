"""POST /v1/ask over loopback against the real app, model, Chroma and SQLite."""

from __future__ import annotations

import httpx
import pytest

from tests.app.conftest import LiveApp
from tests.app.contract import check_ask_object


def ask(live: LiveApp, question: object, **extra: object) -> httpx.Response:
    return httpx.post(f"{live.base_url}/v1/ask", json={"question": question, **extra}, timeout=60)


def test_health_and_ready(live_app: LiveApp) -> None:
    assert httpx.get(f"{live_app.base_url}/healthz").json() == {"status": "alive"}
    assert httpx.get(f"{live_app.base_url}/readyz").status_code == 200


def test_catheter_question_is_answered_from_the_catheter_document(live_app: LiveApp) -> None:
    response = ask(live_app, "how long will the catheter stay in?")
    assert response.status_code == 200
    body = response.json()
    check_ask_object(body)
    assert body["outcome"] == "answered"
    assert body["sources"][0]["doc_id"] == "catheter"
    assert "7 to 10" in body["answer"]
    assert "Your catheter at home" in body["answer"]


def test_unrelated_question_escalates_with_a_booking(live_app: LiveApp) -> None:
    _, key = live_app.services.people.add_patient("p-ask-booking", "Booking Patient")
    body = httpx.post(
        f"{live_app.base_url}/v1/ask",
        json={"question": "what dose of metformin should I take?", "patient_id": "p-ask-booking"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ).json()
    check_ask_object(body)
    assert body["outcome"] == "escalated"
    assert body["escalation"]["reason"] == "low_confidence"
    assert body["escalation"]["appointment"] is not None
    assert body["escalation"]["appointment"]["with"] in body["answer"]


def test_an_unidentified_caller_gets_the_numbers_not_a_slot(live_app: LiveApp) -> None:
    body = ask(live_app, "what dose of metformin should I take?").json()
    check_ask_object(body)
    assert body["outcome"] == "escalated"
    assert body["escalation"]["appointment"] is None
    assert live_app.services.clinic.contacts.nurse_line_phone in body["answer"]
    assert "callback request" in body["answer"]


def test_red_flag_skips_retrieval(live_app: LiveApp) -> None:
    body = ask(live_app, "I've got crushing chest pain and can't breathe").json()
    check_ask_object(body)
    assert body["outcome"] == "red_flag"
    assert body["red_flag"]["priority"] == "emergency"
    assert body["confidence"] is None
    assert live_app.services.clinic.contacts.emergency_number in body["answer"]


def test_request_for_a_person(live_app: LiveApp) -> None:
    body = ask(live_app, "can I talk to a real person please").json()
    check_ask_object(body)
    assert body["outcome"] == "escalated"
    assert body["escalation"]["reason"] == "patient_request"
    assert body["confidence"] is None


def test_smalltalk(live_app: LiveApp) -> None:
    body = ask(live_app, "hello there").json()
    check_ask_object(body)
    assert body["outcome"] == "smalltalk" and body["confidence"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": 42}, "question"),
        ({"question": "hi", "patient_id": 7}, "patient_id"),
        ({}, "question"),
        ({"question": "hi", "surprise": True}, "surprise"),
    ],
)
def test_bad_requests_name_the_field(
    live_app: LiveApp, payload: dict[str, object], field: str
) -> None:
    response = httpx.post(f"{live_app.base_url}/v1/ask", json=payload, timeout=30)
    assert response.status_code == 422
    assert field in {item["field"] for item in response.json()["detail"]}


def test_malformed_json(live_app: LiveApp) -> None:
    response = httpx.post(
        f"{live_app.base_url}/v1/ask",
        content=b"{not json",
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 422


def test_unknown_patient_is_refused(live_app: LiveApp) -> None:
    response = ask(live_app, "how long will the catheter stay in?", patient_id="nobody")
    assert response.status_code == 401


def test_known_patient_with_key_is_audited(live_app: LiveApp) -> None:
    people = live_app.services.people
    patient, key = people.add_patient("p-ask-1", "Test Patient")
    response = httpx.post(
        f"{live_app.base_url}/v1/ask",
        json={"question": "when can I drive again?", "patient_id": patient.id},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200
    check_ask_object(response.json())
    trail = people.audit_trail(patient.id)
    assert trail and trail[0].action == "ask"
    wrong = httpx.post(
        f"{live_app.base_url}/v1/ask",
        json={"question": "when can I drive again?", "patient_id": patient.id},
        headers={"Authorization": "Bearer acp_wrong"},
        timeout=60,
    )
    assert wrong.status_code == 401

"""Slow bookings: the patient hears he will get a text and may go; the booking finishes in the
background and the appointment reaches his stored number through a Twilio-compatible gateway.

The live app books on a local FHIR server that answers slowly, and texts through a local
gateway speaking Twilio's Messages API; the clinic's patience is 0.3 s.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
import yaml

from app.main import build_services, utc_now
from escalation.clinic import DEFAULT_CLINIC_FILE
from tests.app.conftest import PLATFORM_KEY, LiveApp, make_settings, serve
from tests.app.test_voice import receive_until, say
from tests.escalation.fhir_server import FhirServer
from tests.escalation.receivers import wait_until
from tests.escalation.sms_gateway import ACCOUNT_SID, AUTH_TOKEN, SmsGateway
from tests.platforms.conftest import PATIENT_DOB, sse, vendor

PHONE = "+447700900123"
REFUSED_PHONE = "+447700900124"
VOICE_PHONE = "+447700900126"
CALLER_PHONE = "+447911123999"
FHIR_DELAY_S = 0.4
CLINIC_NAME = "Fenland Urology"


@dataclass
class SlowClinic:
    live: LiveApp
    gateway: SmsGateway
    fhir: FhirServer
    keys: dict[str, str]

    def ask(self, patient_id: str | None, question: str) -> tuple[dict[str, Any], float]:
        headers = {"Authorization": f"Bearer {self.keys[patient_id]}"} if patient_id else {}
        started = time.monotonic()
        response = httpx.post(
            self.live.base_url + "/v1/ask",
            json={"question": question, "patient_id": patient_id},
            headers=headers,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body, time.monotonic() - started

    def escalation(self, escalation_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.live.base_url}/v1/escalations/{escalation_id}",
            headers={"Authorization": f"Bearer {self.live.coordinator_key}"},
            timeout=30,
        )
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture(scope="module")
def slow_clinic(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[SlowClinic]:
    root = tmp_path_factory.mktemp("slow-clinic")
    clinic = yaml.safe_load(DEFAULT_CLINIC_FILE.read_text())
    clinic["name"] = CLINIC_NAME
    clinic["care_team"]["booking_patience_s"] = 0.3
    clinic_file = root / "clinic.yaml"
    clinic_file.write_text(yaml.safe_dump(clinic))

    fhir = FhirServer()
    fhir.start()
    state = fhir.state
    state.add_schedule("s-patel", "nurse-patel", "nurse Patel")
    tomorrow = (utc_now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    state.add_slots(
        "s-patel", [tomorrow.replace(hour=h, tzinfo=UTC) for h in (9, 10, 11, 13, 14, 15)]
    )
    gateway = SmsGateway().start()

    settings = make_settings(
        root,
        clinic_config=clinic_file,
        escalation={
            "scheduler": "fhir",
            "fhir_base_url": fhir.base_url,
            "fhir_schedule_ids": "s-patel",
            "sms_base_url": gateway.base_url,
            "sms_account_sid": ACCOUNT_SID,
            "sms_auth_token": AUTH_TOKEN,
            "sms_from": "+441223000002",
            "alert_base_delay_s": 0.05,
        },
    )
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    _, coordinator_key = services.people.add_staff("Coordinator", "coordinator")
    _, clinician_key = services.people.add_staff("Clinician", "clinician")
    keys: dict[str | None, str] = {}
    _, keys["pt-texted"] = services.people.add_patient(
        "pt-texted", "Arthur Penhaligon", phone=PHONE, date_of_birth=PATIENT_DOB
    )
    _, keys["pt-refused"] = services.people.add_patient(
        "pt-refused", "Dirk Gently", phone=REFUSED_PHONE, date_of_birth=PATIENT_DOB
    )
    _, keys["pt-timed"] = services.people.add_patient(
        "pt-timed", "Hob Gadling", phone="+447700900125", date_of_birth=PATIENT_DOB
    )
    _, keys["pt-voice"] = services.people.add_patient(
        "pt-voice", "Olivia Dunham", phone=VOICE_PHONE, date_of_birth=PATIENT_DOB
    )
    _, keys["pt-caller"] = services.people.add_patient(
        "pt-caller", "Peter Bishop", phone=CALLER_PHONE, date_of_birth=PATIENT_DOB
    )
    _, keys["pt-no-phone"] = services.people.add_patient("pt-no-phone", "Walter Bishop")
    server = serve(settings, services)
    base = server.url
    live = LiveApp(base, services, coordinator_key, clinician_key, "", settings)
    fhir.state.delay_s = FHIR_DELAY_S
    yield SlowClinic(live, gateway, fhir, keys)  # type: ignore[arg-type]
    server.stop(timeout=30)
    gateway.stop()
    fhir.stop()


def test_a_slow_booking_is_texted_to_the_patient_once_it_is_made(slow_clinic: SlowClinic) -> None:
    before = len(slow_clinic.gateway.sent())
    result, took = slow_clinic.ask("pt-texted", "Can I speak to a nurse please?")

    # He was not kept waiting for the whole booking (several slow FHIR round trips).
    assert took < 4 * FHIR_DELAY_S, took
    assert result["outcome"] == "escalated"
    assert "text message" in result["answer"]
    assert "You don't need to stay on the line" in result["answer"]
    escalation_id = result["escalation"]["id"]
    assert result["escalation"]["appointment"] is None

    assert wait_until(lambda: len(slow_clinic.gateway.sent()) > before, timeout=15)
    [text] = slow_clinic.gateway.sent()[before:]
    assert text.status == 201
    assert text.form["To"] == PHONE and text.form["From"] == "+441223000002"
    booked = slow_clinic.escalation(escalation_id)
    appointment = booked["appointment"]
    assert appointment is not None
    start = datetime.fromisoformat(appointment["start"]).astimezone(UTC)
    # British summer or winter time: the text gives the clinic's local time of that slot.
    local_hours = {f"{(start + timedelta(hours=h)).hour:02d}:00" for h in (0, 1)}
    body = text.form["Body"]
    assert body.startswith(f"{CLINIC_NAME}: your appointment with the care team is booked for")
    assert any(hour in body for hour in local_hours), body
    # Nothing clinical: not his words, not the clinician, not the reason.
    for word in ("nurse", "Patel", "speak", "question", "escalat"):
        assert word.lower() not in body.lower()

    trail = slow_clinic.live.services.people.audit_trail("pt-texted")
    assert any(row.action == "text.follow_up" for row in trail)


def test_a_refused_text_shows_to_coordinators(slow_clinic: SlowClinic) -> None:
    slow_clinic.gateway.answers = [400]
    result, _ = slow_clinic.ask("pt-refused", "Please can a person from the care team call me?")
    assert result["outcome"] == "escalated" and "text message" in result["answer"]
    escalation_id = result["escalation"]["id"]

    def flagged() -> bool:
        found = slow_clinic.escalation(escalation_id)
        return bool(found["needs_attention"]) and "text message" in (
            found["attention_reason"] or ""
        )

    assert wait_until(flagged, timeout=15)
    reason = slow_clinic.escalation(escalation_id)["attention_reason"]
    assert "HTTP 400" in reason and REFUSED_PHONE not in reason
    # The booking itself went through; only the text failed.
    assert slow_clinic.escalation(escalation_id)["appointment"] is not None


def test_a_patient_without_a_phone_number_waits_for_his_booking(slow_clinic: SlowClinic) -> None:
    before = len(slow_clinic.gateway.sent())
    result, took = slow_clinic.ask("pt-no-phone", "Can I speak to a nurse please?")
    assert result["outcome"] == "escalated"
    assert "text message" not in result["answer"]
    assert result["escalation"]["appointment"] is not None
    assert "I've booked you a call with nurse Patel" in result["answer"]
    assert took > FHIR_DELAY_S
    time.sleep(0.5)
    assert len(slow_clinic.gateway.sent()) == before


def test_an_unidentified_caller_is_promised_no_text(slow_clinic: SlowClinic) -> None:
    before = len(slow_clinic.gateway.sent())
    result, _ = slow_clinic.ask(None, "Can I speak to a nurse please?")
    assert result["outcome"] == "escalated"
    assert "text message" not in result["answer"]
    assert "callback request" in result["answer"]
    time.sleep(0.5)
    assert len(slow_clinic.gateway.sent()) == before


def test_a_wrong_key_never_reaches_the_text(slow_clinic: SlowClinic) -> None:
    response = httpx.post(
        slow_clinic.live.base_url + "/v1/ask",
        json={"question": "Can I speak to a nurse please?", "patient_id": "pt-texted"},
        headers={"Authorization": "Bearer acp_not-his-key"},
        timeout=30,
    )
    assert response.status_code == 401


def test_the_slow_escalation_path_is_timed(slow_clinic: SlowClinic) -> None:
    # The turn's timings stop at the patience, not at the end of the booking.
    result, _ = slow_clinic.ask("pt-timed", "I'd like to talk to someone from the team")
    assert result["outcome"] == "escalated"
    assert result["timings_ms"]["escalation"] < 3 * FHIR_DELAY_S * 1000


async def test_on_the_voice_socket_too_the_patient_is_told_and_texted(
    slow_clinic: SlowClinic,
) -> None:
    before = len(slow_clinic.gateway.sent())
    url = slow_clinic.live.base_url.replace("http://", "ws://") + "/v1/voice"
    async with websockets.connect(url) as ws:
        key = slow_clinic.keys["pt-voice"]
        await ws.send(json.dumps({"type": "session.start", "patient_id": "pt-voice", "key": key}))
        assert json.loads(await ws.recv())["type"] == "session.ready"
        await say(ws, "Can I speak to a nurse please?")
        events = await receive_until(ws, {"turn.completed"})
    said = " ".join(e["text"] for e in events if e["type"] == "speech.sentence")
    assert "text message" in said
    [escalation] = [e for e in events if e["type"] == "turn.escalation"]
    assert escalation["escalation"]["appointment"] is None

    def texted() -> bool:
        return any(s.form["To"] == VOICE_PHONE for s in slow_clinic.gateway.sent()[before:])

    assert await asyncio.to_thread(wait_until, texted, 15)


def test_a_phone_caller_confirmed_by_birth_date_may_hang_up_and_is_texted(
    slow_clinic: SlowClinic,
) -> None:
    request = copy.deepcopy(vendor("vapi")["request"])
    request["call"]["id"] = "slow-booking-call"
    request["customer"]["number"] = "07911 123999"  # his stored number, said nationally
    headers = {"Authorization": f"Bearer {PLATFORM_KEY}"}

    def post(*turns: tuple[str, str]) -> str:
        body = copy.deepcopy(request)
        body["messages"].extend({"role": role, "content": text} for role, text in turns)
        response = httpx.post(
            slow_clinic.live.base_url + "/v1/chat/completions",
            json=body,
            headers=headers,
            timeout=60,
        )
        text, _, _ = sse(response)
        return text

    assert "date of birth" in post()
    confirmed = post(("user", "fourth of March fifty-two"))
    assert "Peter" in confirmed
    before = len(slow_clinic.gateway.sent())
    started = time.monotonic()
    said = post(
        ("user", "fourth of March fifty-two"),
        ("assistant", confirmed),
        ("user", "Can I speak to a nurse please?"),
    )
    assert time.monotonic() - started < 4 * FHIR_DELAY_S
    assert "text message" in said and "You don't need to stay on the line" in said

    def texted() -> bool:
        return any(s.form["To"] == CALLER_PHONE for s in slow_clinic.gateway.sent()[before:])

    assert wait_until(texted, timeout=15)

"""Coordinator alerts by email, through a real local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from escalation.email import EmailChannel, compose_email
from escalation.errors import DeliveryError
from escalation.notifications import AlertMessage
from escalation.settings import EscalationSettings
from tests.escalation.receivers import SmtpServer

PAYLOAD = {
    "id": "7f3c2a91e0",
    "priority": "routine",
    "reason": "low_confidence",
    "question": "Is it normal to leak a little when I stand up?",
    "patient_id": "p-42",
    "appointment": {
        "id": "appt-9",
        "start": "2025-06-04T09:20:00+01:00",
        "end": "2025-06-04T09:40:00+01:00",
        "with": "nurse Patel",
    },
    "confidence": 0.31,
    "red_flag_rule": None,
    "link": "http://127.0.0.1:8000/staff/escalations/7f3c2a91e0",
}


def message(
    payload: dict[str, object] = PAYLOAD, event: str = "escalation.created"
) -> AlertMessage:
    return AlertMessage(
        delivery_id="0d1e2f",
        escalation_id="7f3c2a91e0",
        event=event,
        payload=payload,
        sent_at=datetime(2025, 6, 3, 14, 0, tzinfo=UTC),
        attempt=1,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def channel(
    server: SmtpServer, username: str | None = None, password: SecretStr | None = None
) -> EmailChannel:
    return EmailChannel(
        host=server.host,
        port=server.port,
        sender="aftercare@clinic.example",
        recipients=["coordinators@clinic.example", "oncall@clinic.example"],
        username=username,
        password=password,
        starttls=False,
        timeout=2.0,
    )


async def test_alert_email_reaches_the_coordinators(smtp: SmtpServer) -> None:
    await channel(smtp).deliver(message())

    (mail,) = smtp.received()
    assert mail.mail_from == "aftercare@clinic.example"
    assert mail.rcpt_tos == ["coordinators@clinic.example", "oncall@clinic.example"]
    email = mail.message
    assert email["Subject"] == (
        "[Aftercare] ROUTINE escalation: the assistant was not sure of the answer (ref 7f3c2a91)"
    )
    assert email["Message-ID"] == "<0d1e2f@clinic.example>"
    assert email["X-Aftercare-Delivery"] == "0d1e2f"
    body = email.get_content()
    assert "Question: Is it normal to leak a little when I stand up?" in body
    assert "Patient: p-42" in body
    assert "Reason: the assistant was not sure of the answer" in body
    assert "Confidence: 0.31" in body
    assert "Appointment: Wed 04 Jun 2025 09:20 UTC+01:00 to 09:40 with nurse Patel" in body
    assert "Open: http://127.0.0.1:8000/staff/escalations/7f3c2a91e0" in body
    assert "Escalation: 7f3c2a91e0" in body


async def test_urgent_red_flag_subject_names_priority_and_danger_sign(smtp: SmtpServer) -> None:
    payload = dict(
        PAYLOAD,
        priority="urgent",
        reason="red_flag",
        confidence=None,
        appointment=None,
        red_flag_rule="catheter_not_draining",
    )
    await channel(smtp).deliver(message(payload))

    (mail,) = smtp.received()
    subject = mail.message["Subject"]
    assert subject.startswith("[Aftercare] URGENT escalation: ")
    assert "danger sign: catheter not draining" in subject
    assert "leak" not in subject  # the patient's words stay out of the subject
    assert mail.message["Importance"] == "high"
    body = mail.message.get_content()
    assert "Confidence: not assessed" in body
    assert "Appointment: none booked" in body


def test_follow_up_events_say_what_happened() -> None:
    email = compose_email(message(event="escalation.resolved"), "a@b.example", ["c@d.example"])
    assert email["Subject"].startswith("[Aftercare] ROUTINE escalation resolved: ")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_is_used_when_configured() -> None:
    server = SmtpServer(credentials=("alerts", "pa55")).start()
    try:
        await channel(server, username="alerts", password=SecretStr("pa55")).deliver(message())
        assert [mail.login for mail in server.received()] == ["alerts"]
        with pytest.raises(DeliveryError, match="refused the login"):
            await channel(server, username="alerts", password=SecretStr("wrong")).deliver(message())
        with pytest.raises(DeliveryError, match="refused the alert"):
            await channel(server).deliver(message())  # no login: AUTH required
        assert len(server.received()) == 1
    finally:
        server.stop()


async def test_temporary_refusal_is_a_delivery_failure(smtp: SmtpServer) -> None:
    smtp.fail_times = 1
    with pytest.raises(DeliveryError, match="SMTP 451"):
        await channel(smtp).deliver(message())
    await channel(smtp).deliver(message())
    assert len(smtp.received()) == 1


async def test_unreachable_mail_server_is_a_delivery_failure() -> None:
    server = SmtpServer()  # never started: nothing listens on its port
    with pytest.raises(DeliveryError, match="could not be reached"):
        await channel(server).deliver(message())


def test_a_channel_needs_recipients() -> None:
    with pytest.raises(ValueError, match="recipient"):
        EmailChannel("127.0.0.1", 25, "a@b.example", [])


def test_a_channel_from_the_settings_needs_a_mail_server() -> None:
    with pytest.raises(ValueError, match="no mail server is set"):
        EmailChannel.from_settings(EscalationSettings(), ["coordinator@clinic.example"])

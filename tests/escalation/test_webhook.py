"""The coordinator webhook channel against a real local receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from escalation.errors import DeliveryError
from escalation.notifications import AlertMessage
from escalation.webhook import WebhookChannel, sign, verify_signature
from tests.escalation.receivers import WebhookReceiver

SECRET = SecretStr("s3cret-shared-with-coordinators")
PAYLOAD = {
    "id": "esc-1",
    "priority": "urgent",
    "reason": "red_flag",
    "question": "My catheter stopped draining and my belly hurts",
    "patient_id": "p-42",
    "appointment": None,
    "confidence": None,
    "red_flag_rule": "catheter_not_draining",
    "link": "http://127.0.0.1:8000/staff/escalations/esc-1",
}


def message(delivery_id: str = "d-1") -> AlertMessage:
    return AlertMessage(
        delivery_id=delivery_id,
        escalation_id="esc-1",
        event="escalation.created",
        payload=PAYLOAD,
        sent_at=datetime(2025, 6, 3, 14, 0, 5, tzinfo=UTC),
        attempt=1,
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_signed_post_reaches_the_receiver_and_verifies(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await WebhookChannel(client, receiver.url, SECRET, timeout=2).deliver(message())

    (request,) = receiver.received()
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-aftercare-event"] == "escalation.created"
    assert headers["x-aftercare-delivery"] == "d-1"
    assert headers["x-aftercare-timestamp"] == str(
        int(datetime(2025, 6, 3, 14, 0, 5, tzinfo=UTC).timestamp())
    )
    assert headers["x-aftercare-signature"].startswith("sha256=")
    assert verify_signature(
        SECRET, headers["x-aftercare-timestamp"], request.body, headers["x-aftercare-signature"]
    )
    body = request.json()
    assert body == {
        "event": "escalation.created",
        "escalation_id": "esc-1",
        "delivery_id": "d-1",
        "sent_at": "2025-06-03T14:00:05+00:00",
        "escalation": PAYLOAD,
    }


async def test_signature_rejects_wrong_secret_tampering_and_old_timestamps(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    await WebhookChannel(client, receiver.url, SECRET, timeout=2).deliver(message())
    (request,) = receiver.received()
    stamp = request.headers["x-aftercare-timestamp"]
    signature = request.headers["x-aftercare-signature"]

    assert not verify_signature("another secret", stamp, request.body, signature)
    tampered = request.body.replace(b"urgent", b"routine")
    assert not verify_signature(SECRET, stamp, tampered, signature)
    assert not verify_signature(SECRET, str(int(stamp) - 1), request.body, signature)
    assert not verify_signature(SECRET, stamp, request.body, "sha256=" + "0" * 64)
    assert not verify_signature(SECRET, stamp, request.body, "sha256=é")
    assert verify_signature(SECRET.get_secret_value(), stamp, request.body.decode(), signature)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = json.dumps({"a": 1}).encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", body) == f"sha256={expected}"


async def test_error_answer_is_a_delivery_failure(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.fail_times = 1
    with pytest.raises(DeliveryError, match="HTTP 500"):
        await WebhookChannel(client, receiver.url, SECRET, timeout=2).deliver(message())


async def test_no_answer_within_the_timeout_is_a_delivery_failure(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.hang = True
    with pytest.raises(DeliveryError, match=r"did not answer within 0\.2 s"):
        await WebhookChannel(client, receiver.url, SECRET, timeout=0.2).deliver(message())
    assert len(receiver.received()) == 1


async def test_unreachable_receiver_is_a_delivery_failure(client: httpx.AsyncClient) -> None:
    closed = WebhookReceiver()  # bound but never served: the port refuses connections
    url = closed.url
    closed.stop()
    with pytest.raises(DeliveryError, match="could not be reached") as caught:
        await WebhookChannel(client, url, SECRET, timeout=1).deliver(message())
    assert url not in str(caught.value)

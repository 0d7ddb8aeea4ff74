"""The coordinator webhook: a signed JSON POST per alert.

Request
    ``POST <webhook_url>`` with ``Content-Type: application/json`` and the body::

        {"event": "escalation.created", "escalation_id": "...", "delivery_id": "...",
         "sent_at": "2025-06-03T14:00:00+00:00", "escalation": {...}}

    ``escalation`` holds what coordinators need and no more (``notifications.ALERT_FIELDS``):
    ``id``, ``priority``, ``reason``, ``status``, ``question``, ``patient_id``, ``confidence``,
    ``red_flag_rule``, ``needs_attention``, ``attention_reason``, ``created_at``,
    ``appointment`` (``{"id", "start", "end", "with", "status"}`` or null) and ``link`` to the
    full record.

Headers
    ``X-Aftercare-Event``: the event name.
    ``X-Aftercare-Delivery``: the delivery id; the same on every retry of one delivery, so a
    receiver that already processed it can answer 2xx and ignore the duplicate.
    ``X-Aftercare-Timestamp``: Unix seconds when this attempt was sent.
    ``X-Aftercare-Signature``: ``sha256=`` followed by the lowercase hex HMAC-SHA256, keyed
    with the shared secret, of the bytes ``<timestamp>.<raw body>``.

Receivers check the signature over the raw body as received (``verify_signature``, a
constant-time comparison) and should reject timestamps more than a few minutes old to stop
replays. Any 2xx answer is success; anything else, a connection error or no answer within the
timeout is a failure and the delivery is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
from pydantic import SecretStr

from escalation.errors import DeliveryError
from escalation.notifications import AlertMessage

SIGNATURE_PREFIX = "sha256="


def _key(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes | SecretStr, timestamp: str, body: bytes) -> str:
    """The ``X-Aftercare-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify_signature(
    secret: str | bytes | SecretStr, timestamp: str, body: bytes | str, header: str
) -> bool:
    """Whether ``header`` is the signature of ``body`` at ``timestamp`` (constant time)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        expected = sign(secret, timestamp, raw)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), header.encode("utf-8"))


class WebhookChannel:
    """Delivers alerts to one coordinator webhook through the app's shared HTTP client."""

    name = "webhook"

    def __init__(
        self, client: httpx.AsyncClient, url: str, secret: SecretStr, timeout: float = 10.0
    ) -> None:
        self._client = client
        self._url = url
        self._secret = secret
        self._timeout = timeout

    def render(self, message: AlertMessage) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of one attempt."""
        body = json.dumps(
            {
                "event": message.event,
                "escalation_id": message.escalation_id,
                "delivery_id": message.delivery_id,
                "sent_at": message.sent_at.isoformat(),
                "escalation": dict(message.payload),
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        ).encode("utf-8")
        timestamp = str(int(message.sent_at.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Aftercare-Alerts/1",
            "X-Aftercare-Event": message.event,
            "X-Aftercare-Delivery": message.delivery_id,
            "X-Aftercare-Timestamp": timestamp,
            "X-Aftercare-Signature": sign(self._secret, timestamp, body),
        }
        return body, headers

    async def deliver(self, message: AlertMessage) -> None:
        body, headers = self.render(message)
        # The URL is left out of errors: webhook URLs often carry a token.
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"the coordinator webhook did not answer within {self._timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"the coordinator webhook could not be reached ({type(exc).__name__})"
            ) from exc
        if not response.is_success:
            raise DeliveryError(f"the coordinator webhook answered HTTP {response.status_code}")

"""Text messages to patients through a Twilio-compatible Messages API, retried by the outbox.

Request (Twilio's Messages resource, which many SMS gateways also speak)
    ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with HTTP basic auth
    (account SID, auth token) and the form fields ``To``, ``From`` and ``Body``. Any 2xx
    answer is success (Twilio answers 201 with the message resource).

Failures
    A timeout, a connection error, 429 or a 5xx is temporary: the outbox tries again later.
    Any other 4xx (an invalid or unreachable number, a refused sender, wrong credentials) is
    permanent: the delivery fails at once and the coordinators see why. The error names the
    HTTP status and the gateway's numeric error code only: gateways quote the number back in
    their messages, and nothing of a patient goes to the logs.

What is sent
    The outbox stores and sends ``text_view(payload)``: the destination number (``to``, E.164)
    and the body, nothing else. Composing a body that carries no clinical detail is the
    caller's job (``app.conversation.follow_ups``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from escalation.errors import AlertConfigError, DeliveryError, PermanentDeliveryError
from escalation.notifications import PATIENT_TEXT_CHANNEL, AlertMessage, FailureCallback
from escalation.outbox import AlertOutbox
from escalation.settings import EscalationSettings

log = logging.getLogger("aftercare.sms")

SMS_EVENT = "patient.text"
SMS_LABEL = "the text message to the patient"


def text_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What of a text-message payload is stored and sent: the number and the body. Pure."""
    return {"to": str(payload.get("to") or ""), "body": str(payload.get("body") or "")}


class SmsChannel:
    """Sends one outbox delivery as one text message through the gateway."""

    name = PATIENT_TEXT_CHANNEL

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        account_sid: str,
        auth_token: SecretStr,
        sender: str,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token.get_secret_value())
        self._sender = sender
        self._timeout = timeout

    async def deliver(self, message: AlertMessage) -> None:
        to = str(message.payload.get("to") or "")
        body = str(message.payload.get("body") or "")
        if not to.startswith("+") or not body:
            raise PermanentDeliveryError("the text message has no E.164 number or no words")
        try:
            response = await self._client.post(
                self._url,
                data={"To": to, "From": self._sender, "Body": body},
                auth=self._auth,
                headers={"User-Agent": "Aftercare-Texts/1", "Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"the SMS gateway did not answer within {self._timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"the SMS gateway could not be reached ({type(exc).__name__})"
            ) from exc
        if response.is_success:
            return
        problem = f"the SMS gateway answered HTTP {response.status_code}{_code(response)}"
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(problem)
        raise PermanentDeliveryError(problem)


def _code(response: httpx.Response) -> str:
    """The gateway's numeric error code (Twilio: ``code``), never its message."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return ""
    return f" (error {code})" if isinstance(code, int) else ""


def build_texts(
    settings: EscalationSettings,
    client: httpx.AsyncClient,
    scheduler: AsyncIOScheduler,
    sessions: sessionmaker[Session],
    on_failed: FailureCallback,
    clock: Callable[[], datetime],
) -> AlertOutbox | None:
    """The patients' text-message outbox, or None when no SMS gateway is configured."""
    if not settings.sms_account_sid:
        return None
    if settings.sms_auth_token is None or not settings.sms_auth_token.get_secret_value():
        raise AlertConfigError(
            "an SMS account is set but no auth token (AFTERCARE_ESCALATION__SMS_AUTH_TOKEN)"
        )
    if not settings.sms_from:
        raise AlertConfigError(
            "an SMS account is set but no sender number (AFTERCARE_ESCALATION__SMS_FROM)"
        )
    if not settings.sms_base_url.startswith(("http://", "https://")):
        raise AlertConfigError("the SMS gateway URL must start with http:// or https://")
    channel = SmsChannel(
        client,
        settings.sms_base_url,
        settings.sms_account_sid,
        settings.sms_auth_token,
        settings.sms_from,
        settings.sms_timeout_s,
    )
    return AlertOutbox(
        sessions=sessions,
        scheduler=scheduler,
        channels=[channel],
        on_failed=on_failed,
        clock=clock,
        max_attempts=settings.sms_max_attempts,
        base_delay_s=settings.alert_base_delay_s,
        name="texts",
        view=text_view,
        label=SMS_LABEL,
        resumes=lambda name: name == PATIENT_TEXT_CHANNEL,
    )

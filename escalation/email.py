"""Coordinator alerts by email: one plain-text message per alert, sent over SMTP.

The subject carries the priority and the reason but no patient words (subjects show on lock
screens and in notification previews); the body carries what a coordinator needs to act: the
question as the patient put it, the patient reference, the reason, the confidence, the booked
appointment and the link to the escalation. Every retry of one delivery has the same
``Message-ID``, so mail clients fold duplicates.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Self

from pydantic import SecretStr

from escalation.errors import DeliveryError
from escalation.notifications import AlertMessage, describe_event, describe_reason
from escalation.settings import EscalationSettings


def subject_for(message: AlertMessage) -> str:
    payload = message.payload
    priority = str(payload.get("priority") or "routine").upper()
    return (
        f"[Aftercare] {priority} {describe_event(message.event)}: "
        f"{describe_reason(payload)} (ref {message.escalation_id[:8]})"
    )


def _when(value: object) -> str:
    if not isinstance(value, str):
        return str(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    text = moment.strftime("%a %d %b %Y %H:%M")
    return f"{text} {moment.tzname()}" if moment.tzinfo is not None else text


def _appointment(value: object) -> str:
    if not isinstance(value, Mapping):
        return "none booked"
    start = value.get("start")
    end = value.get("end")
    who = value.get("with")
    text = _when(start) if start else "time not set"
    if isinstance(start, str) and isinstance(end, str):
        try:
            text += f" to {datetime.fromisoformat(end):%H:%M}"
        except ValueError:
            text += f" to {end}"
    if who:
        text += f" with {who}"
    if value.get("status") not in (None, "booked"):
        text += f", {value['status']}"
    if value.get("id"):
        text += f" (booking {value['id']})"
    return text


def _confidence(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):.2f}"
    return "not assessed"


def body_for(message: AlertMessage) -> str:
    payload: Mapping[str, Any] = message.payload
    question = str(payload.get("question") or "").strip()
    lines = [
        f"Aftercare {describe_event(message.event)} for the care coordinators.",
        "",
        f"Priority: {str(payload.get('priority') or 'routine').upper()}",
        f"Reason: {describe_reason(payload)}",
        f"Question: {question}" if question else "Question: (none recorded)",
        f"Patient: {payload.get('patient_id') or 'not identified'}",
        f"Confidence: {_confidence(payload.get('confidence'))}",
        f"Appointment: {_appointment(payload.get('appointment'))}",
    ]
    if payload.get("status"):
        lines.append(f"Status: {payload['status']}")
    if payload.get("link"):
        lines.append(f"Open: {payload['link']}")
    lines += [
        "",
        f"Escalation: {message.escalation_id}",
        f"Delivery: {message.delivery_id} (retries of this alert carry the same number)",
    ]
    return "\n".join(lines) + "\n"


def compose_email(message: AlertMessage, sender: str, recipients: Sequence[str]) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = subject_for(message)
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = format_datetime(message.sent_at)
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "aftercare"
    email["Message-ID"] = f"<{message.delivery_id}@{domain}>"
    email["X-Aftercare-Event"] = message.event
    email["X-Aftercare-Delivery"] = message.delivery_id
    priority = str(message.payload.get("priority") or "routine")
    if priority in ("urgent", "emergency"):
        email["X-Priority"] = "1"
        email["Importance"] = "high"
    email.set_content(body_for(message))
    return email


class EmailChannel:
    """Sends alerts through one SMTP server (``smtplib`` in a worker thread)."""

    name = "email"

    @classmethod
    def from_settings(cls, settings: EscalationSettings, recipients: Sequence[str]) -> Self:
        """A channel through the SMTP server the escalation settings name."""
        if settings.smtp_host is None:
            raise ValueError("no mail server is set (AFTERCARE_ESCALATION__SMTP_HOST)")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.email_from,
            recipients=recipients,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_s,
        )

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = True,
        timeout: float = 15.0,
    ) -> None:
        if not recipients:
            raise ValueError("an email channel needs at least one recipient")
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = list(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    async def deliver(self, message: AlertMessage) -> None:
        email = compose_email(message, self._sender, self._recipients)
        await asyncio.to_thread(self._send, email)

    def _send(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    password = self._password.get_secret_value() if self._password else ""
                    smtp.login(self._username, password)
                smtp.send_message(email, from_addr=self._sender, to_addrs=self._recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"the mail server refused the login (SMTP {exc.smtp_code})"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"the mail server refused all {len(exc.recipients)} coordinator addresses"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"the mail server refused the alert (SMTP {exc.smtp_code})"
            ) from exc
        except TimeoutError as exc:
            raise DeliveryError(
                f"the mail server did not answer within {self._timeout:g} s"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"the mail server could not be reached ({type(exc).__name__})"
            ) from exc

"""Coordinator alerts: what the escalation service calls, what a channel delivers, and when
a failed delivery is tried again.

Every escalation reaches the care coordinators through the configured channels (a signed
JSON webhook, ``escalation.webhook``; email, ``escalation.email``). The service hands an event
to ``CoordinatorAlerts.enqueue``; the durable outbox (``escalation.outbox``) records one
delivery per channel and retries each one with ``retry_delay`` until it succeeds or runs out
of attempts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Multiples of the base delay: 5 s, 30 s, 2 min, 10 min, then every 30 min with a 5 s base.
RETRY_STEPS: tuple[int, ...] = (1, 6, 24, 120, 360)

PATIENT_TEXT_CHANNEL = "sms"
"""The channel of patients' text messages; its rows belong to the text outbox."""

FailureCallback = Callable[[str, str], Awaitable[object] | None]
"""``on_failed(escalation_id, reason)``: a delivery gave up; may be sync or async."""


class CoordinatorAlerts(Protocol):
    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        """Record the alert durably before returning; never raises for delivery problems."""
        ...


@dataclass(frozen=True)
class AlertMessage:
    """One attempt at one delivery. ``delivery_id`` is the same on every retry."""

    delivery_id: str
    escalation_id: str
    event: str
    payload: Mapping[str, Any]
    sent_at: datetime
    attempt: int


class AlertChannel(Protocol):
    """A way to reach coordinators. ``deliver`` raises ``DeliveryError`` when it did not."""

    @property
    def name(self) -> str: ...

    async def deliver(self, message: AlertMessage) -> None: ...


ALERT_FIELDS: tuple[str, ...] = (
    "id",
    "priority",
    "reason",
    "status",
    "question",
    "patient_id",
    "confidence",
    "red_flag_rule",
    "needs_attention",
    "attention_reason",
    "created_at",
    "appointment",
    "link",
    "count",
    "escalation_ids",
)
"""What an alert tells coordinators; the rest of the record (the earlier conversation, the
passages) stays behind the link, in the staff view."""


def coordinator_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The minimal-necessary part of an escalation for an alert. Pure.

    Keeps ``ALERT_FIELDS`` that are present and reduces the appointment to
    ``{"id", "start", "end", "with", "status"}`` (``with`` is the clinician's name).
    """
    view = {key: payload[key] for key in ALERT_FIELDS if key in payload}
    appointment = payload.get("appointment")
    if isinstance(appointment, Mapping):
        view["appointment"] = {
            "id": appointment.get("id"),
            "start": appointment.get("start"),
            "end": appointment.get("end"),
            "with": appointment.get("with") or appointment.get("clinician_name"),
            "status": appointment.get("status", "booked"),
        }
    return view


def retry_delay(attempts_made: int, base_delay_s: float) -> float:
    """Seconds to wait after the ``attempts_made``-th failed attempt (1-based). Pure."""
    step = RETRY_STEPS[min(max(attempts_made, 1), len(RETRY_STEPS)) - 1]
    return base_delay_s * step


REASON_WORDS: dict[str, str] = {
    "low_confidence": "the assistant was not sure of the answer",
    "red_flag": "danger sign",
    "patient_request": "the patient asked for a person",
}

EVENT_WORDS: dict[str, str] = {
    "escalation.created": "escalation",
    "escalation.acknowledged": "escalation acknowledged",
    "escalation.resolved": "escalation resolved",
    "escalations.burst": "burst of escalations",
}


def describe_reason(payload: Mapping[str, Any]) -> str:
    """The escalation's reason in a coordinator's words, with the danger sign if any."""
    reason = str(payload.get("reason") or "unspecified")
    words = REASON_WORDS.get(reason, reason.replace("_", " "))
    rule = payload.get("red_flag_rule")
    if rule:
        words = f"{words}: {str(rule).replace('_', ' ')}"
    return words


def describe_event(event: str) -> str:
    return EVENT_WORDS.get(event, event.replace(".", " ").replace("_", " "))

"""Coordinator alerts for unidentified callers, aggregated when they arrive in a burst.

Anyone can call the assistant without saying who he is, so a script can raise escalations
as fast as it can talk. Identified patients' alerts go out at once (their escalations are
merged per patient and reason, so they cannot flood). An unidentified caller's callback
request waits ``window_s``; every one that arrives in that window goes out in one alert
that names the count. An unidentified emergency goes out at once unless a burst is already
being collected, in which case it joins the burst alert (which then has emergency
priority). Every escalation is stored either way: the coordinators' queue shows them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escalation.notifications import CoordinatorAlerts
from escalation.record_models import PRIORITY_ORDER

log = logging.getLogger(__name__)

BURST_EVENT = "escalations.burst"
CREATED_EVENT = "escalation.created"


@dataclass
class _Burst:
    first_at: datetime
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent_at_once: int = 0


class AlertBursts:
    """A ``CoordinatorAlerts`` in front of another one (the outbox)."""

    def __init__(
        self,
        alerts: CoordinatorAlerts,
        clock: Callable[[], datetime],
        window_s: float = 60.0,
    ) -> None:
        self._alerts = alerts
        self._clock = clock
        self._window_s = window_s
        self._burst: _Burst | None = None
        self._timer: asyncio.TimerHandle | None = None

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        if event != CREATED_EVENT or payload.get("patient_id") is not None or self._window_s <= 0:
            self._alerts.enqueue(escalation_id, event, payload)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to time a window with: send at once
            self._alerts.enqueue(escalation_id, event, payload)
            return
        if self._burst is None:
            self._burst = _Burst(self._clock())
            self._timer = loop.call_later(self._window_s, self.flush)
            if payload.get("priority") == "emergency":
                self._burst.sent_at_once += 1
                self._alerts.enqueue(escalation_id, event, payload)
                return
        self._burst.held.append((escalation_id, payload))

    @property
    def held(self) -> int:
        """Alerts waiting for the current window to close."""
        return len(self._burst.held) if self._burst else 0

    def flush(self) -> None:
        """Close the current window: send what it holds (called by its timer and on stop)."""
        burst, self._burst = self._burst, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if burst is None or not burst.held:
            return
        try:
            if len(burst.held) == 1:
                escalation_id, payload = burst.held[0]
                self._alerts.enqueue(escalation_id, CREATED_EVENT, payload)
                return
            first_id, _ = burst.held[0]
            self._alerts.enqueue(first_id, BURST_EVENT, burst_payload(burst.held, burst.first_at))
        except Exception as exc:  # the escalations are stored; the queue still shows them
            log.error("could not queue a burst alert: %s", type(exc).__name__)


def burst_payload(held: list[tuple[str, dict[str, Any]]], since: datetime) -> dict[str, Any]:
    """One alert for many callback requests: how many, how urgent, and which."""
    priorities = [str(p.get("priority") or "routine") for _, p in held]
    top = min(priorities, key=lambda p: PRIORITY_ORDER.get(p, 9))  # type: ignore[call-overload]
    reasons = sorted({str(p.get("reason") or "") for _, p in held})
    return {
        "id": held[0][0],
        "priority": top,
        "reason": reasons[0] if len(reasons) == 1 else "several",
        "status": "open",
        "question": f"{len(held)} escalations from unidentified callers since "
        f"{since.isoformat(timespec='seconds')}; see the queue",
        "patient_id": None,
        "needs_attention": True,
        "attention_reason": "burst of unidentified callers",
        "created_at": since.isoformat(),
        "count": len(held),
        "escalation_ids": [escalation_id for escalation_id, _ in held],
    }

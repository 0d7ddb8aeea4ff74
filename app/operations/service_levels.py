"""Escalation and alert service levels, counted from the database at each scrape.

Gauges, so they are right after a restart and the same whichever process is scraped:

- ``aftercare_escalations_open{priority}``: opened and not yet acknowledged, booked or
  closed by anyone.
- ``aftercare_escalations_needing_attention{priority}``: unresolved and flagged for a
  coordinator.
- ``aftercare_booking_failures{reason}``: unresolved escalations whose booking failed
  (``appointment_system_unavailable``, ``no_free_slot``, ``no_same_day_slot``).
- ``aftercare_alerts{status}``: coordinator alerts ``pending`` (still being tried) and
  ``failed`` (gave up); ``aftercare_alert_oldest_pending_seconds``.

A database that cannot be read makes ``aftercare_service_levels_up`` 0 instead of failing
the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import get_args

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from escalation.outbox import FAILED, PENDING, AlertDelivery
from escalation.record_models import Priority
from escalation.record_tables import EscalationRow
from escalation.service import NO_SAME_DAY_REASON, SCHEDULER_FAILED_REASON

log = logging.getLogger("aftercare.metrics")
CLOSED = ("resolved", "cancelled")
RESCHEDULE = "reschedule: "


class ServiceLevels(Collector):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        booking_reasons: Iterable[str],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._reasons = {reason: _label(reason) for reason in booking_reasons}
        self._reasons |= {RESCHEDULE + r: label for r, label in self._reasons.items()}

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "aftercare_service_levels_up", "Whether the service levels could be read"
        )
        try:
            families = self._read()
        except SQLAlchemyError as exc:
            log.warning("service levels could not be read: %s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [*families, up]

    def _read(self) -> list[Metric]:
        priorities: tuple[str, ...] = get_args(Priority)
        with self._sessions() as session:
            open_rows = session.execute(
                select(EscalationRow.priority, func.count())
                .where(EscalationRow.status == "open")
                .group_by(EscalationRow.priority)
            ).all()
            attention_rows = session.execute(
                select(EscalationRow.priority, func.count())
                .where(EscalationRow.needs_attention, EscalationRow.status.not_in(CLOSED))
                .group_by(EscalationRow.priority)
            ).all()
            # Reasons are joined with "; " on one row; the flagged unresolved rows are few.
            flagged = session.scalars(
                select(EscalationRow.attention_reason).where(
                    EscalationRow.needs_attention,
                    EscalationRow.status.not_in(CLOSED),
                    EscalationRow.attention_reason.is_not(None),
                )
            ).all()
            alert_rows = session.execute(
                select(AlertDelivery.status, func.count())
                .where(AlertDelivery.status.in_((PENDING, FAILED)))
                .group_by(AlertDelivery.status)
            ).all()
            oldest = session.scalar(
                select(func.min(AlertDelivery.created_at)).where(AlertDelivery.status == PENDING)
            )

        opened = GaugeMetricFamily(
            "aftercare_escalations_open",
            "Escalations not yet acknowledged, booked or closed, by priority",
            labels=["priority"],
        )
        attention = GaugeMetricFamily(
            "aftercare_escalations_needing_attention",
            "Unresolved escalations flagged for a coordinator, by priority",
            labels=["priority"],
        )
        for family, rows in ((opened, open_rows), (attention, attention_rows)):
            counts = {str(p): int(n) for p, n in rows}
            for priority in priorities:
                family.add_metric([priority], counts.get(priority, 0))

        booking = GaugeMetricFamily(
            "aftercare_booking_failures",
            "Unresolved escalations whose booking failed, by reason",
            labels=["reason"],
        )
        by_label = dict.fromkeys(sorted(set(self._reasons.values())), 0)
        for joined in flagged:
            labels = {self._reasons[r] for r in str(joined).split("; ") if r in self._reasons}
            for label in labels:
                by_label[label] += 1
        for label, n in by_label.items():
            booking.add_metric([label], n)

        alerts = GaugeMetricFamily(
            "aftercare_alerts", "Coordinator alerts by delivery status", labels=["status"]
        )
        counts = {str(s): int(n) for s, n in alert_rows}
        for status in (PENDING, FAILED):
            alerts.add_metric([status], counts.get(status, 0))
        age = GaugeMetricFamily(
            "aftercare_alert_oldest_pending_seconds",
            "Age of the oldest alert still being delivered (0 when none)",
        )
        age.add_metric([], _age_s(oldest, self._clock()))
        return [opened, attention, booking, alerts, age]


def _label(reason: str) -> str:
    if reason == SCHEDULER_FAILED_REASON:
        return "appointment_system_unavailable"
    if reason == NO_SAME_DAY_REASON:
        return "no_same_day_slot"
    return "no_free_slot"


def _age_s(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite gives naive datetimes back
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())

"""The durable alert outbox: every coordinator alert is a row before anything is sent.

``AlertOutbox.enqueue`` writes one ``alert_deliveries`` row per configured channel in one
transaction and arms an immediate timer (an escalation's "created" alert is queued once only:
queued again, it is ignored, so a recovery after a crash cannot send it twice); a delivery
then goes through its channel and, when it fails, is retried with ``retry_delay`` backoff
until it succeeds or ``max_attempts`` is spent, when it is marked failed and
``on_failed(escalation_id, reason)`` is called (the app makes the escalation need attention
in the coordinator queue).

Timers and state. The retry timers are APScheduler jobs in the persistent job store (see
``escalation.jobs``: a persisted job carries only the topic and the delivery id and fires
``jobs.fire``; this outbox subscribes to its topic on the scheduler instance it was given, so
no module-level registry is needed). The table is the truth: ``start`` re-arms a timer for
every pending row at its ``next_attempt_at``, so a restart in the middle of retries, or a timer
lost with a crash, resumes from the table. A crash between a channel's success and the row's
update makes the next start send that delivery again, with the same delivery id, which
receivers use to ignore duplicates.

Nothing from the payload (the patient's words) goes to the logs: only ids, channel names,
attempt counts and the channel's error, which never quotes the alert.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import JSON, ColumnElement, DateTime, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from escalation import jobs
from escalation.database import Base
from escalation.email import EmailChannel
from escalation.errors import AlertConfigError, DeliveryError, PermanentDeliveryError
from escalation.notifications import (
    PATIENT_TEXT_CHANNEL,
    AlertChannel,
    AlertMessage,
    FailureCallback,
    coordinator_view,
    retry_delay,
)
from escalation.settings import EscalationSettings
from escalation.webhook import WebhookChannel

log = logging.getLogger("aftercare.alerts")

Clock = Callable[[], datetime]

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

# Events an escalation has once only: queued again (by a recovery), they go out once.
ONCE_EVENTS = frozenset({"escalation.created"})

# A timer that fires earlier than this before the row's due time is re-armed instead of run.
_EARLY_TOLERANCE = timedelta(milliseconds=500)


class AlertDelivery(Base):
    """One alert to one channel, with its retry state."""

    __tablename__ = "alert_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    escalation_id: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # "<alert key>:<channel>" for alerts that must be queued once only (a recovered
    # escalation's "created" alert may be queued again after a crash): UNIQUE.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as the rest of the app sees it (no payload)."""

    id: str
    escalation_id: str
    event: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class _Outcome:
    retry_at: datetime | None = None
    failed_reason: str | None = None


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record(row: AlertDelivery) -> DeliveryRecord:
    created = _utc(row.created_at)
    assert created is not None
    return DeliveryRecord(
        id=row.id,
        escalation_id=row.escalation_id,
        event=row.event,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=_utc(row.next_attempt_at),
        created_at=created,
        delivered_at=_utc(row.delivered_at),
    )


class AlertOutbox:
    """Durable, retried delivery of coordinator alerts; implements ``CoordinatorAlerts``.

    ``name`` names this outbox's timers (job ids ``<name>:<delivery id>``); two outboxes on one
    scheduler need different names. ``view`` is what of a payload is stored and sent (the
    coordinators' minimum by default) and ``label`` names the message in failure reasons.
    A channel's ``PermanentDeliveryError`` fails the delivery at once, without retries.
    ``clock`` must follow wall-clock time: retry times it computes become the scheduler's run
    dates.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        scheduler: AsyncIOScheduler,
        channels: Sequence[AlertChannel],
        on_failed: FailureCallback,
        clock: Clock,
        max_attempts: int = 8,
        base_delay_s: float = 5.0,
        link_for: Callable[[str], str] | None = None,
        name: str = "alerts",
        view: Callable[[dict[str, Any]], dict[str, Any]] = coordinator_view,
        label: str = "the coordinator alert",
        resumes: Callable[[str], bool] | None = None,
        arm_timers: bool = True,
        events: Collection[str] | None = None,
        not_events: Collection[str] = (),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        names = [channel.name for channel in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"alert channel names must be unique: {names}")
        self._sessions = sessions
        self._scheduler = scheduler
        self._channels = {channel.name: channel for channel in channels}
        self._on_failed = on_failed
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._link_for = link_for
        self._topic = name
        self._view = view
        self._label = label
        # Outboxes may share the table: each resumes only the rows of its own channels.
        self._resumes = resumes or (lambda channel: True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._concluding: set[asyncio.Future[None]] = set()
        # False in a web worker: its rows are delivered by the deployment's worker process,
        # which finds them with ``adopt_pending``.
        self.arm_timers = arm_timers
        self._adopted: set[str] = set()
        # Outboxes share the table (and channel names such as "webhook"): each resumes and
        # adopts only the events it owns, never another's rows.
        self.events = frozenset(events) if events is not None else None
        self.not_events = frozenset(not_events)

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    # -- the service side ---------------------------------------------------------------

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        """Record one delivery per channel, then arm their timers to fire now.

        Returns once the rows are committed. Storage errors propagate (the alert is not
        recorded); delivery problems never do. Only ``coordinator_view(payload)`` is stored and
        sent, with a ``link`` added when the payload has none; values JSON cannot hold are
        stored as text.
        """
        if not self._channels:
            log.warning("escalation %s: no coordinator alert channel is configured", escalation_id)
            return
        document = self._view(json.loads(json.dumps(payload, default=str)))
        if self._link_for is not None and not document.get("link"):
            document["link"] = self._link_for(escalation_id)
        now = self._clock()
        once = event in ONCE_EVENTS
        rows = [
            AlertDelivery(
                id=uuid.uuid4().hex,
                escalation_id=escalation_id,
                event=event,
                channel=channel,
                payload=document,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                dedupe_key=f"{escalation_id}:{event}:{channel}"[:200] if once else None,
            )
            for channel in self._channels
        ]
        try:
            with self._sessions.begin() as session:
                session.add_all(rows)
        except IntegrityError:
            if not once or not self._queued(rows):
                raise
            # Queued before (a recovery after a crash finishing the same escalation).
            log.info("escalation %s: the %s alert was queued already", escalation_id, event)
            return
        if not self.arm_timers:
            return
        for row in rows:
            self._adopted.add(row.id)
            self._arm(row.id, now)

    def _queued(self, rows: Sequence[AlertDelivery]) -> bool:
        keys = [row.dedupe_key for row in rows]
        with self._sessions() as session:
            found = session.scalars(
                select(AlertDelivery.dedupe_key).where(AlertDelivery.dedupe_key.in_(keys))
            ).all()
        return len(found) == len(keys)

    def deliveries(self, escalation_id: str) -> list[DeliveryRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.escalation_id == escalation_id)
                .order_by(AlertDelivery.created_at, AlertDelivery.channel)
            ).all()
            return [_record(row) for row in rows]

    def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        with self._sessions() as session:
            row = session.get(AlertDelivery, delivery_id)
            return _record(row) if row is not None else None

    def erase_payloads(
        self, *, escalation_ids: Sequence[str] = (), before: datetime | None = None
    ) -> int:
        """Blank the stored alert documents of finished deliveries (they hold the question).

        For the given escalations (a patient's erasure), and/or every delivery created
        before ``before`` (retention). Pending deliveries keep theirs until they finish.
        """
        changed = 0
        with self._sessions.begin() as session:
            targets: list[ColumnElement[bool]] = []
            if escalation_ids:
                ids = list(escalation_ids)
                for start in range(0, len(ids), 500):
                    targets.append(AlertDelivery.escalation_id.in_(ids[start : start + 500]))
            if before is not None:
                targets.append(AlertDelivery.created_at < before)
            for target in targets:
                result = session.execute(
                    update(AlertDelivery)
                    .where(target, AlertDelivery.status != PENDING)
                    .values(payload={"erased": True})
                    .execution_options(synchronize_session=False)
                )
                changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to this outbox's timers and re-arm one for every pending delivery.

        Call inside the running event loop, before or after ``scheduler.start()``.
        """
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = jobs.subscribe(self._scheduler, self._topic, self._signal)
        pending = await asyncio.to_thread(self._pending)
        now = self._clock()
        for delivery_id, due in pending:
            self._adopted.add(delivery_id)
            self._arm(delivery_id, due or now)
        if pending:
            log.info("resuming %d pending coordinator alert deliveries", len(pending))

    async def adopt_pending(self) -> int:
        """Arm a timer for every pending delivery this outbox has not armed yet (rows other
        processes wrote: the web workers of a deployment); returns how many. Call after
        ``start``, periodically, from the one process that delivers."""
        if self._loop is None:
            return 0
        pending = await asyncio.to_thread(self._pending)
        now = self._clock()
        fresh = [(key, due) for key, due in pending if key not in self._adopted]
        for delivery_id, due in fresh:
            self._arm(delivery_id, due or now)
        # Finished rows drop out; the set stays as small as the pending queue.
        self._adopted = {delivery_id for delivery_id, _ in pending}
        return len(fresh)

    async def stop(self) -> None:
        """Stop listening and cancel attempts in flight (their rows stay pending).

        An attempt whose channel already answered is recorded (and its retry armed) first.

        Call before ``scheduler.shutdown()``; the scheduler is the composition root's to stop.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._loop = None
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._concluding, return_exceptions=True)
        self._running.clear()
        self._again.clear()

    # -- delivery ------------------------------------------------------------------------

    def _arm(self, delivery_id: str, when: datetime) -> None:
        try:
            jobs.schedule_at(self._scheduler, self._topic, delivery_id, when)
        except Exception:
            # The row stays pending; the next start re-arms it.
            log.exception("could not arm the timer of alert delivery %s", delivery_id)

    def _pending(self) -> list[tuple[str, datetime | None]]:
        with self._sessions() as session:
            query = select(
                AlertDelivery.id, AlertDelivery.next_attempt_at, AlertDelivery.channel
            ).where(AlertDelivery.status == PENDING)
            if self.events is not None:
                query = query.where(AlertDelivery.event.in_(sorted(self.events)))
            if self.not_events:
                query = query.where(AlertDelivery.event.not_in(sorted(self.not_events)))
            rows = session.execute(query).all()
            return [(row[0], _utc(row[1])) for row in rows if self._resumes(row[2])]

    def _signal(self, delivery_id: str) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._spawn, delivery_id)

    def _spawn(self, delivery_id: str) -> None:
        loop = self._loop
        if loop is None:
            return
        if delivery_id in self._running:
            # Looked at again once the attempt in flight is over, so no signal is lost.
            self._again.add(delivery_id)
            return
        task = loop.create_task(self._attempt(delivery_id), name=f"alert-{delivery_id}")
        self._running[delivery_id] = task
        task.add_done_callback(lambda done: self._finished(delivery_id, done))

    def _finished(self, delivery_id: str, task: asyncio.Task[None]) -> None:
        if self._running.get(delivery_id) is task:
            del self._running[delivery_id]
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "alert delivery %s stopped on an unexpected %s", delivery_id, type(exc).__name__
            )
        if delivery_id in self._again:
            self._again.discard(delivery_id)
            self._spawn(delivery_id)

    async def _attempt(self, delivery_id: str) -> None:
        loaded = await asyncio.to_thread(self._load, delivery_id)
        if loaded is None:
            return
        row, due = loaded
        now = self._clock()
        if due is not None and due - now > _EARLY_TOLERANCE:
            self._arm(delivery_id, due)
            return
        channel = self._channels.get(row.channel)
        error: str | None
        final = False
        if channel is None:
            error, final = f"the {row.channel} channel is no longer configured", True
        else:
            message = AlertMessage(
                delivery_id=row.id,
                escalation_id=row.escalation_id,
                event=row.event,
                payload=row.payload,
                sent_at=now,
                attempt=row.attempts + 1,
            )
            try:
                await channel.deliver(message)
                error = None
            except PermanentDeliveryError as exc:
                error, final = str(exc), True
            except DeliveryError as exc:
                error = str(exc)
            except Exception as exc:
                error = f"the {row.channel} channel failed unexpectedly ({type(exc).__name__})"
        # Once the channel has answered, recording the result and arming the retry finish
        # even if this attempt is cancelled (``stop`` waits for them).
        conclusion = asyncio.ensure_future(self._conclude(row, error, final))
        self._concluding.add(conclusion)
        conclusion.add_done_callback(self._concluding.discard)
        await asyncio.shield(conclusion)

    async def _conclude(self, row: AlertDelivery, error: str | None, final: bool) -> None:
        outcome = await asyncio.to_thread(self._settle, row.id, error, final)
        if outcome.retry_at is not None:
            self._arm(row.id, outcome.retry_at)
        elif outcome.failed_reason is not None:
            await self._report_failure(row.escalation_id, outcome.failed_reason)

    def _load(self, delivery_id: str) -> tuple[AlertDelivery, datetime | None] | None:
        with self._sessions() as session:
            row = session.get(AlertDelivery, delivery_id)
            if row is None or row.status != PENDING:
                return None
            session.expunge(row)
            return row, _utc(row.next_attempt_at)

    def _settle(self, delivery_id: str, error: str | None, final: bool) -> _Outcome:
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(AlertDelivery, delivery_id)
            if row is None or row.status != PENDING:
                return _Outcome()
            row.attempts += 1
            if error is None:
                row.status = DELIVERED
                row.delivered_at = now
                row.next_attempt_at = None
                row.last_error = None
                log.info(
                    "alert delivery %s (%s, escalation %s) delivered on attempt %d",
                    row.id,
                    row.channel,
                    row.escalation_id,
                    row.attempts,
                )
                return _Outcome()
            row.last_error = error
            if final or row.attempts >= self._max_attempts:
                row.status = FAILED
                row.next_attempt_at = None
                log.error(
                    "alert delivery %s (%s, escalation %s) failed after %d attempts: %s",
                    row.id,
                    row.channel,
                    row.escalation_id,
                    row.attempts,
                    error,
                )
                return _Outcome(
                    failed_reason=(
                        f"{self._label} by {row.channel} failed after "
                        f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}: {error}"
                    )
                )
            retry_at = now + timedelta(seconds=retry_delay(row.attempts, self._base_delay_s))
            row.next_attempt_at = retry_at
            log.warning(
                "alert delivery %s (%s) attempt %d failed, retrying at %s: %s",
                row.id,
                row.channel,
                row.attempts,
                retry_at.isoformat(),
                error,
            )
            return _Outcome(retry_at=retry_at)

    async def _report_failure(self, escalation_id: str, reason: str) -> None:
        try:
            result = self._on_failed(escalation_id, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("could not flag escalation %s after a failed alert", escalation_id)


def build_channels(settings: EscalationSettings, client: httpx.AsyncClient) -> list[AlertChannel]:
    """The channels ``settings`` configure: none, the webhook, email, or both."""
    channels: list[AlertChannel] = []
    if settings.webhook_url:
        if not settings.webhook_url.startswith(("http://", "https://")):
            raise AlertConfigError(
                "the coordinator webhook URL must start with http:// or https://"
            )
        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
            raise AlertConfigError(
                "a coordinator webhook URL is set but no webhook secret to sign alerts with "
                "(AFTERCARE_ESCALATION__WEBHOOK_SECRET)"
            )
        channels.append(
            WebhookChannel(
                client, settings.webhook_url, settings.webhook_secret, settings.webhook_timeout_s
            )
        )
    if settings.smtp_host:
        if not settings.email_to:
            raise AlertConfigError(
                "a mail server is set but no coordinator address to send alerts to "
                "(AFTERCARE_ESCALATION__EMAIL_TO)"
            )
        channels.append(EmailChannel.from_settings(settings, settings.email_to))
    return channels


def build_alerts(
    settings: EscalationSettings,
    client: httpx.AsyncClient,
    scheduler: AsyncIOScheduler,
    sessionmaker: sessionmaker[Session],
    on_failed: FailureCallback,
    clock: Clock,
) -> AlertOutbox:
    """The outbox with the configured channels; with none, alerts are only logged."""
    channels = build_channels(settings, client)
    if not channels:
        log.warning("no coordinator alert channel configured: escalations reach the queue only")
    base = settings.public_base_url.rstrip("/")
    return AlertOutbox(
        sessions=sessionmaker,
        scheduler=scheduler,
        channels=channels,
        on_failed=on_failed,
        clock=clock,
        max_attempts=settings.alert_max_attempts,
        base_delay_s=settings.alert_base_delay_s,
        link_for=lambda escalation_id: f"{base}/coordinator#{escalation_id}",
        resumes=lambda channel: channel != PATIENT_TEXT_CHANNEL,
    )

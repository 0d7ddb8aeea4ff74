"""The durable alert outbox: real SQLite, real scheduler, real local webhook and SMTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from escalation import jobs
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import AlertConfigError
from escalation.notifications import AlertChannel
from escalation.outbox import AlertOutbox, build_alerts, build_channels
from escalation.settings import EscalationSettings
from escalation.webhook import WebhookChannel, verify_signature
from tests.escalation.receivers import SmtpServer, WebhookReceiver, eventually

SECRET = SecretStr("coordinators-secret")
PAYLOAD: dict[str, Any] = {
    "id": "esc-1",
    "priority": "urgent",
    "reason": "red_flag",
    "question": "I have a fever of 38.5 and chills",
    "patient_id": "p-7",
    "appointment": None,
    "confidence": None,
    "red_flag_rule": "fever",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Failures:
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, escalation_id: str, reason: str) -> None:
        self.calls.append((escalation_id, reason))


@dataclass
class Deployment:
    """What the composition root builds, for one process lifetime."""

    url: str
    sessions: sessionmaker[Session]
    scheduler: AsyncIOScheduler
    outbox: AlertOutbox
    failures: Failures

    async def stop(self) -> None:
        await self.outbox.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0.05)


async def deploy(
    database: Path,
    channels: list[AlertChannel],
    max_attempts: int = 4,
    base_delay_s: float = 0.05,
    start: bool = True,
) -> Deployment:
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    create_tables(engine)
    sessions = make_sessionmaker(engine)
    scheduler = jobs.make_scheduler(url)
    failures = Failures()
    outbox = AlertOutbox(
        sessions,
        scheduler,
        channels,
        failures,
        utc_now,
        max_attempts=max_attempts,
        base_delay_s=base_delay_s,
        link_for=lambda escalation_id: f"http://coordinators.test/e/{escalation_id}",
    )
    if start:
        scheduler.start()
        await outbox.start()
    return Deployment(url, sessions, scheduler, outbox, failures)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def webhook(
    client: httpx.AsyncClient, receiver: WebhookReceiver, timeout: float = 2
) -> WebhookChannel:
    return WebhookChannel(client, receiver.url, SECRET, timeout=timeout)


def statuses(outbox: AlertOutbox, escalation_id: str = "esc-1") -> dict[str, str]:
    return {d.channel: d.status for d in outbox.deliveries(escalation_id)}


async def test_enqueue_is_durable_before_anything_is_sent(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    # Nothing runs: no scheduler, no outbox listening. The row must be there all the same.
    rig = await deploy(tmp_path / "db.sqlite", [webhook(client, receiver)], start=False)
    rig.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)

    with rig.sessions() as session:
        rows = session.execute(
            text("SELECT channel, status, attempts, payload FROM alert_deliveries")
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [("webhook", "pending", 0)]
    assert '"question": "I have a fever of 38.5 and chills"' in rows[0][3]
    assert receiver.received() == []


async def test_alert_goes_out_on_every_configured_channel(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver, smtp: SmtpServer
) -> None:
    settings = EscalationSettings(
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_starttls=False,
        email_from="aftercare@clinic.example",
        email_to="a@clinic.example, b@clinic.example",
        public_base_url="https://aftercare.clinic.example/",
    )
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    create_tables(engine)
    scheduler = jobs.make_scheduler(url)
    failures = Failures()
    outbox = build_alerts(settings, client, scheduler, make_sessionmaker(engine), failures, utc_now)
    scheduler.start()
    await outbox.start()
    try:
        assert outbox.channels == ["webhook", "email"]
        outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        assert await eventually(
            lambda: statuses(outbox) == {"webhook": "delivered", "email": "delivered"}
        )
        (request,) = receiver.received()
        assert verify_signature(
            SECRET,
            request.headers["x-aftercare-timestamp"],
            request.body,
            request.headers["x-aftercare-signature"],
        )
        link = "https://aftercare.clinic.example/coordinator#esc-1"
        assert request.json()["escalation"]["link"] == link
        (mail,) = smtp.received()
        assert mail.rcpt_tos == ["a@clinic.example", "b@clinic.example"]
        assert mail.message["Subject"].startswith("[Aftercare] URGENT escalation: danger sign")
        assert f"Open: {link}" in mail.message.get_content()
        deliveries = outbox.deliveries("esc-1")
        assert {d.id for d in deliveries} == {
            request.headers["x-aftercare-delivery"],
            mail.message["X-Aftercare-Delivery"],
        }
        assert all(d.attempts == 1 and d.delivered_at is not None for d in deliveries)
        assert failures.calls == []
    finally:
        await outbox.stop()
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)


async def test_receiver_down_twice_then_up_delivers_on_the_third_attempt(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.fail_times = 2
    rig = await deploy(tmp_path / "db.sqlite", [webhook(client, receiver)])
    try:
        rig.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        assert await eventually(lambda: statuses(rig.outbox) == {"webhook": "delivered"})
        (delivery,) = rig.outbox.deliveries("esc-1")
        assert delivery.attempts == 3
        assert delivery.last_error is None
        requests = receiver.received()
        assert [r.status for r in requests] == [500, 500, 200]
        # Retries are the same delivery: receivers can drop duplicates by this id.
        assert {r.headers["x-aftercare-delivery"] for r in requests} == {delivery.id}
        assert {r.json()["delivery_id"] for r in requests} == {delivery.id}
        assert all(
            verify_signature(
                SECRET,
                r.headers["x-aftercare-timestamp"],
                r.body,
                r.headers["x-aftercare-signature"],
            )
            for r in requests
        )
        assert rig.failures.calls == []
    finally:
        await rig.stop()


async def test_receiver_that_never_answers_fails_after_max_attempts_and_is_flagged(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.hang = True
    rig = await deploy(
        tmp_path / "db.sqlite", [webhook(client, receiver, timeout=0.2)], max_attempts=3
    )
    try:
        rig.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        assert await eventually(lambda: statuses(rig.outbox) == {"webhook": "failed"}, within=8)
        (delivery,) = rig.outbox.deliveries("esc-1")
        assert delivery.attempts == 3
        assert delivery.next_attempt_at is None
        assert delivery.last_error == "the coordinator webhook did not answer within 0.2 s"
        assert await eventually(lambda: len(rig.failures.calls) == 1)
        ((escalation_id, reason),) = rig.failures.calls
        assert escalation_id == "esc-1"
        assert reason.startswith("the coordinator alert by webhook failed after 3 attempts")
        assert "fever" not in reason  # no patient words in what the queue shows
        requests = receiver.received()
        assert len(requests) == 3
        assert {r.headers["x-aftercare-delivery"] for r in requests} == {delivery.id}
        await asyncio.sleep(0.3)
        assert len(receiver.received()) == 3  # a failed delivery is not tried again
    finally:
        await rig.stop()


async def test_restart_in_the_middle_of_retries_resumes_from_the_table(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    database = tmp_path / "db.sqlite"
    receiver.fail_times = 1
    first = await deploy(database, [webhook(client, receiver)], base_delay_s=0.5)
    first.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
    assert await eventually(lambda: len(receiver.received()) == 1)
    assert await eventually(lambda: first.outbox.deliveries("esc-1")[0].attempts == 1)
    await first.stop()  # the process goes away with the retry still pending

    (pending,) = first.outbox.deliveries("esc-1")
    assert pending.status == "pending"
    assert pending.next_attempt_at is not None
    with first.sessions() as session:
        stored = session.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
    assert stored == [f"alerts:{pending.id}"]

    second = await deploy(database, [webhook(client, receiver)], base_delay_s=0.5)
    try:
        assert await eventually(lambda: statuses(second.outbox) == {"webhook": "delivered"})
        (delivered,) = second.outbox.deliveries("esc-1")
        assert delivered.id == pending.id
        assert delivered.attempts == 2
        requests = receiver.received()
        assert [r.status for r in requests] == [500, 200]
        assert {r.headers["x-aftercare-delivery"] for r in requests} == {pending.id}
    finally:
        await second.stop()


async def test_alert_recorded_while_nothing_ran_goes_out_on_the_next_start(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    database = tmp_path / "db.sqlite"
    offline = await deploy(database, [webhook(client, receiver)], start=False)
    offline.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
    # The timer armed before the scheduler ever started is lost with the process; the row is not.
    online = await deploy(database, [webhook(client, receiver)])
    try:
        assert await eventually(lambda: statuses(online.outbox) == {"webhook": "delivered"})
        assert len(receiver.received()) == 1
    finally:
        await online.stop()


async def test_pending_delivery_for_a_channel_no_longer_configured_is_failed_and_flagged(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    database = tmp_path / "db.sqlite"
    offline = await deploy(database, [webhook(client, receiver)], start=False)
    offline.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
    reconfigured = await deploy(database, [])
    try:
        assert await eventually(lambda: statuses(reconfigured.outbox) == {"webhook": "failed"})
        assert await eventually(lambda: len(reconfigured.failures.calls) == 1)
        assert "no longer configured" in reconfigured.failures.calls[0][1]
    finally:
        await reconfigured.stop()


async def test_no_channel_configured_records_nothing_and_does_not_fail(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    rig = await deploy(tmp_path / "db.sqlite", [])
    try:
        rig.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        assert rig.outbox.deliveries("esc-1") == []
        assert rig.failures.calls == []
    finally:
        await rig.stop()


async def test_alert_carries_the_coordinator_view_of_the_record_only(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    rig = await deploy(tmp_path / "db.sqlite", [webhook(client, receiver)])
    when = datetime(2025, 6, 4, 9, 20, tzinfo=UTC)
    record = dict(
        PAYLOAD,
        id="esc-2",
        created_at=when,  # not JSON: stored as text
        conversation=[{"role": "patient", "text": "earlier private words"}],
        passages=[{"doc_id": "fever", "excerpt": "..."}],
        idempotency_key="turn-9",
        appointment={
            "id": "appt-1",
            "escalation_id": "esc-2",
            "clinician_id": "patel",
            "clinician_name": "nurse Patel",
            "start": "2025-06-04T10:00:00Z",
            "end": "2025-06-04T10:20:00Z",
            "status": "booked",
            "external_ref": None,
        },
    )
    try:
        rig.outbox.enqueue("esc-2", "escalation.created", record)
        assert await eventually(lambda: statuses(rig.outbox, "esc-2") == {"webhook": "delivered"})
        sent = receiver.received()[0].json()["escalation"]
        assert sent["created_at"] == str(when)
        assert sent["link"] == "http://coordinators.test/e/esc-2"
        assert sent["question"] == PAYLOAD["question"]
        assert sent["appointment"] == {
            "id": "appt-1",
            "start": "2025-06-04T10:00:00Z",
            "end": "2025-06-04T10:20:00Z",
            "with": "nurse Patel",
            "status": "booked",
        }
        assert {"conversation", "passages", "idempotency_key"}.isdisjoint(sent)
        with rig.sessions() as session:
            stored = session.execute(text("SELECT payload FROM alert_deliveries")).scalar_one()
        assert "earlier private words" not in stored
    finally:
        await rig.stop()


def test_channels_follow_the_settings(client: httpx.AsyncClient) -> None:
    assert build_channels(EscalationSettings(), client) == []
    both = build_channels(
        EscalationSettings(
            webhook_url="https://hooks.example/x",
            webhook_secret=SECRET,
            smtp_host="mail.example",
            email_to=["c@clinic.example"],
        ),
        client,
    )
    assert [c.name for c in both] == ["webhook", "email"]
    with pytest.raises(AlertConfigError, match="no webhook secret"):
        build_channels(EscalationSettings(webhook_url="https://hooks.example/x"), client)
    with pytest.raises(AlertConfigError, match="http:// or https://"):
        build_channels(
            EscalationSettings(webhook_url="hooks.example/x", webhook_secret=SECRET), client
        )
    with pytest.raises(AlertConfigError, match="no coordinator address"):
        build_channels(EscalationSettings(smtp_host="mail.example"), client)


def test_settings_take_addresses_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.settings import load_settings

    monkeypatch.setenv("AFTERCARE_ESCALATION__EMAIL_TO", "a@clinic.example, b@clinic.example")
    monkeypatch.setenv("AFTERCARE_ESCALATION__WEBHOOK_SECRET", "from-env")
    monkeypatch.setenv("AFTERCARE_ESCALATION__WEBHOOK_URL", "")
    settings = load_settings().escalation
    assert settings.email_to == ["a@clinic.example", "b@clinic.example"]
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "from-env"
    assert settings.webhook_url is None
    assert settings.alert_max_attempts == 8


async def test_the_delivering_process_adopts_rows_other_processes_wrote_once(
    tmp_path: Path, client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    database = tmp_path / "db.sqlite"
    worker = await deploy(database, [webhook(client, receiver)])
    # A web worker: same table, same channel, but it arms no timers and delivers nothing.
    web = await deploy(database, [webhook(client, receiver)], start=False)
    web.outbox.arm_timers = False
    try:
        web.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        web.outbox.enqueue("esc-2", "escalation.created", {**PAYLOAD, "id": "esc-2"})
        await asyncio.sleep(0.3)
        assert receiver.requests == []
        assert web.scheduler.get_jobs() == []

        assert await worker.outbox.adopt_pending() == 2
        assert await eventually(lambda: len(receiver.requests) == 2)
        assert await worker.outbox.adopt_pending() == 0  # delivered rows are not pending
        await asyncio.sleep(0.3)
        assert sorted(r.json()["escalation"]["id"] for r in receiver.requests) == ["esc-1", "esc-2"]
        assert statuses(worker.outbox, "esc-2") == {"webhook": "delivered"}
    finally:
        await worker.stop()
        await web.stop()


async def test_outboxes_sharing_the_table_deliver_only_their_own_events(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    alerts_hook, digest_hook = WebhookReceiver().start(), WebhookReceiver().start()
    database = tmp_path / "db.sqlite"
    rig = await deploy(database, [webhook(client, alerts_hook)], start=False)
    rig.outbox.not_events = frozenset({"documents.review_due"})
    digests = AlertOutbox(
        rig.sessions,
        rig.scheduler,
        [webhook(client, digest_hook)],  # the same channel name, "webhook"
        Failures(),
        utc_now,
        base_delay_s=0.05,
        name="review-digest",
        events=("documents.review_due",),
    )
    try:
        rig.outbox.enqueue("esc-1", "escalation.created", PAYLOAD)
        digests.enqueue("digest-1", "documents.review_due", {"id": "digest-1"})
        rig.scheduler.start()
        await rig.outbox.start()  # both resume from the shared table
        await digests.start()
        assert await rig.outbox.adopt_pending() == 0
        assert await digests.adopt_pending() == 0
        assert await eventually(
            lambda: len(alerts_hook.requests) == 1 and len(digest_hook.requests) == 1
        )
        await asyncio.sleep(0.3)
        assert [r.json()["escalation"]["id"] for r in alerts_hook.requests] == ["esc-1"]
        assert [r.json()["escalation"]["id"] for r in digest_hook.requests] == ["digest-1"]
        assert statuses(rig.outbox) == {"webhook": "delivered"}
        assert statuses(digests, "digest-1") == {"webhook": "delivered"}
        assert rig.failures.calls == []
    finally:
        await digests.stop()
        await rig.stop()
        alerts_hook.stop()
        digest_hook.stop()

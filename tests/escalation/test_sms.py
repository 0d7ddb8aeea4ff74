"""Patients' text messages: the SMS channel and its outbox against a local gateway that
speaks Twilio's Messages API, on real SQLite and the real scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from escalation import jobs
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import AlertConfigError
from escalation.outbox import AlertOutbox, build_alerts
from escalation.settings import EscalationSettings
from escalation.sms import SMS_EVENT, SmsChannel, build_texts
from tests.escalation.receivers import eventually
from tests.escalation.sms_gateway import ACCOUNT_SID, AUTH_TOKEN, SmsGateway
from tests.escalation.test_outbox import Failures, utc_now

NUMBER = "+447911123456"
TEXT = {"to": NUMBER, "body": "Demo clinic: your appointment is booked for Tuesday at 10:00."}


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway().start()
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def sms_settings(gateway: SmsGateway, **extra: object) -> EscalationSettings:
    values: dict[str, object] = {
        "sms_base_url": gateway.base_url,
        "sms_account_sid": ACCOUNT_SID,
        "sms_auth_token": AUTH_TOKEN,
        "sms_from": "+441223000002",
        "alert_base_delay_s": 0.05,
        "sms_max_attempts": 3,
        **extra,
    }
    return EscalationSettings.model_validate(values)


async def texts(
    database: Path, settings: EscalationSettings, client: httpx.AsyncClient
) -> tuple[AlertOutbox, Failures, object]:
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    create_tables(engine)
    scheduler = jobs.make_scheduler(url)
    failures = Failures()
    outbox = build_texts(settings, client, scheduler, make_sessionmaker(engine), failures, utc_now)
    assert outbox is not None
    scheduler.start()
    await outbox.start()
    return outbox, failures, scheduler


async def stop(outbox: AlertOutbox, scheduler: object) -> None:
    await outbox.stop()
    scheduler.shutdown(wait=False)  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)


async def test_a_text_goes_out_as_twilio_form_fields_with_basic_auth(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", sms_settings(gateway), client)
    try:
        outbox.enqueue("esc-1", SMS_EVENT, {**TEXT, "question": "I have a fever"})
        assert await eventually(lambda: outbox.deliveries("esc-1")[0].status == "delivered")
    finally:
        await stop(outbox, scheduler)
    [sent] = gateway.sent()
    assert sent.account == ACCOUNT_SID
    assert (sent.user, sent.password) == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.form == {"To": NUMBER, "From": "+441223000002", "Body": TEXT["body"]}
    assert failures.calls == []


async def test_a_server_error_is_retried_until_the_gateway_takes_the_text(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    gateway.answers = [503, 429]
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", sms_settings(gateway), client)
    try:
        outbox.enqueue("esc-2", SMS_EVENT, TEXT)
        assert await eventually(lambda: outbox.deliveries("esc-2")[0].status == "delivered")
    finally:
        await stop(outbox, scheduler)
    assert [s.status for s in gateway.sent()] == [503, 429, 201]
    [delivery] = outbox.deliveries("esc-2")
    assert delivery.attempts == 3 and delivery.last_error is None
    assert failures.calls == []


async def test_a_refused_number_fails_at_once_and_is_reported_without_the_number(
    tmp_path: Path,
    client: httpx.AsyncClient,
    gateway: SmsGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway.answers = [400]
    caplog.set_level(logging.DEBUG)
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", sms_settings(gateway), client)
    try:
        outbox.enqueue("esc-3", SMS_EVENT, TEXT)
        assert await eventually(lambda: bool(failures.calls))
    finally:
        await stop(outbox, scheduler)
    assert len(gateway.sent()) == 1  # never retried
    [delivery] = outbox.deliveries("esc-3")
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.last_error == "the SMS gateway answered HTTP 400 (error 21211)"
    [(escalation_id, reason)] = failures.calls
    assert escalation_id == "esc-3"
    assert reason.startswith("the text message to the patient by sms failed after 1 attempt")
    assert NUMBER not in caplog.text and "appointment" not in caplog.text


async def test_wrong_credentials_are_permanent(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    settings = sms_settings(gateway, sms_auth_token="not-the-token")
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", settings, client)
    try:
        outbox.enqueue("esc-4", SMS_EVENT, TEXT)
        assert await eventually(lambda: bool(failures.calls))
    finally:
        await stop(outbox, scheduler)
    assert outbox.deliveries("esc-4")[0].last_error == (
        "the SMS gateway answered HTTP 401 (error 20003)"
    )


async def test_an_unreachable_gateway_is_retried_then_fails(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    settings = sms_settings(gateway, sms_base_url="http://127.0.0.1:9", sms_max_attempts=2)
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", settings, client)
    try:
        outbox.enqueue("esc-5", SMS_EVENT, TEXT)
        assert await eventually(lambda: bool(failures.calls))
    finally:
        await stop(outbox, scheduler)
    [delivery] = outbox.deliveries("esc-5")
    assert delivery.attempts == 2
    assert delivery.last_error == "the SMS gateway could not be reached (ConnectError)"


async def test_a_text_without_a_number_is_refused_without_asking_the_gateway(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    outbox, failures, scheduler = await texts(tmp_path / "db.sqlite", sms_settings(gateway), client)
    try:
        outbox.enqueue("esc-6", SMS_EVENT, {"to": "07911 123456", "body": "hello"})
        assert await eventually(lambda: bool(failures.calls))
    finally:
        await stop(outbox, scheduler)
    assert gateway.sent() == []
    assert outbox.deliveries("esc-6")[0].attempts == 1


async def test_alerts_and_texts_share_the_table_but_each_resumes_its_own(
    tmp_path: Path, client: httpx.AsyncClient, gateway: SmsGateway
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    create_tables(engine)
    sessions = make_sessionmaker(engine)
    settings = sms_settings(gateway)
    # Queued while nothing runs (a restart in between): both outboxes start afterwards.
    idle = build_texts(settings, client, jobs.make_scheduler(url), sessions, Failures(), utc_now)
    assert idle is not None
    idle.enqueue("esc-7", SMS_EVENT, TEXT)

    scheduler = jobs.make_scheduler(url)
    alert_failures = Failures()
    alerts = build_alerts(settings, client, scheduler, sessions, alert_failures, utc_now)
    outbox = build_texts(settings, client, scheduler, sessions, Failures(), utc_now)
    assert outbox is not None
    scheduler.start()
    await alerts.start()
    await outbox.start()
    try:
        assert await eventually(lambda: outbox.deliveries("esc-7")[0].status == "delivered")
    finally:
        await alerts.stop()
        await stop(outbox, scheduler)
    assert alert_failures.calls == []  # the alert outbox never claimed the text as its own


def test_an_incomplete_sms_configuration_is_refused(gateway: SmsGateway) -> None:
    client = httpx.AsyncClient()
    scheduler = jobs.make_scheduler("sqlite://")
    sessions = make_sessionmaker(make_engine("sqlite://"))
    base = {"sms_base_url": gateway.base_url, "sms_account_sid": ACCOUNT_SID}
    cases = [
        ({**base, "sms_from": "+441223000002"}, "no auth token"),
        ({**base, "sms_auth_token": AUTH_TOKEN}, "no sender number"),
        (
            {**base, "sms_auth_token": AUTH_TOKEN, "sms_from": "+44", "sms_base_url": "ftp://x"},
            "must start with http",
        ),
    ]
    for values, words in cases:
        with pytest.raises(AlertConfigError, match=words):
            build_texts(
                EscalationSettings.model_validate(values),
                client,
                scheduler,
                sessions,
                Failures(),
                utc_now,
            )
    assert (
        build_texts(EscalationSettings(), client, scheduler, sessions, Failures(), utc_now) is None
    )
    assert SmsChannel(client, "http://x/", ACCOUNT_SID, SecretStr("t"), "+1").name == "sms"

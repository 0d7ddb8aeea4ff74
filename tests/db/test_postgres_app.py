"""The whole app on PostgreSQL: a named patient's escalating turn over HTTP writes every
kind of row (patient, staff key, audit trail, turn, escalation, appointment, alert outbox,
the scheduler's job store) and reads them back through the staff API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.main import build_services
from app.operations import schema
from escalation.database import make_engine
from tests.app.conftest import Receiver, make_settings, serve

WEBHOOK_SECRET = "webhook-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def test_an_escalating_turn_on_postgres_writes_and_reads_every_table(
    postgres_url: str, tmp_path: Path, embedder: object, receiver: Receiver
) -> None:
    engine = make_engine(postgres_url)
    schema.upgrade(engine)
    settings = make_settings(
        tmp_path,
        database_url=postgres_url,
        escalation={
            "webhook_url": receiver.url,
            "webhook_secret": WEBHOOK_SECRET,
            "public_base_url": "http://127.0.0.1:8000",
        },
        security={"allow_insecure_transport": True},
    )
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    _, staff_key = services.people.add_staff("Coordinator", "coordinator")
    _, patient_key = services.people.add_patient("p-pg-1", "Mr Postgres")
    server = serve(settings, services)
    base = server.url
    try:
        body = httpx.post(
            f"{base}/v1/ask",
            json={"question": "what dose of metformin should I take?", "patient_id": "p-pg-1"},
            headers={"Authorization": f"Bearer {patient_key}"},
            timeout=60,
        ).json()
        assert body["outcome"] == "escalated"
        assert body["escalation"]["appointment"] is not None
        listed = httpx.get(
            f"{base}/v1/escalations",
            headers={"Authorization": f"Bearer {staff_key}"},
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        assert [e["patient_id"] for e in listed.json()] == ["p-pg-1"]
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        # The alert went out through the outbox and its timer in the job store.
        for _ in range(100):
            if receiver.received:
                break
            time.sleep(0.1)
        assert [h["X-Aftercare-Event"] for h, _ in receiver.received] == ["escalation.created"]
    finally:
        server.stop(timeout=30)
    with engine.connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in (
                "patients",
                "staff_keys",
                "audit_events",
                "conversation_turns",
                "escalations",
                "escalation_events",
                "appointments",
                "availability",
                "alert_deliveries",
            )
        }
    assert all(count > 0 for count in counts.values()), counts
    assert services.people.verify_audit().ok

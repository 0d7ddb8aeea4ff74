"""The database goes down in the middle of the day: a caller describing a danger sign still
hears his instruction over HTTP, his escalation waits in the spool, and when the database
answers again recovery opens, books and alerts it once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from escalation.record_tables import EscalationRow
from tests.app.conftest import LiveApp
from tests.app.contract import check_ask_object

DANGER = "My calf is swollen and hot and it hurts to walk on it"


@contextmanager
def database_down(engine: Engine) -> Iterator[None]:
    def refuse(*_: Any) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


async def test_a_danger_sign_while_the_database_is_down_is_heard_then_escalated_once(
    live_app: LiveApp,
) -> None:
    services = live_app.services
    spool_dir = services.settings.data_dir / "spool"
    before = len(list(spool_dir.glob("*.json"))) if spool_dir.is_dir() else 0
    with database_down(services.engine):
        async with httpx.AsyncClient(base_url=live_app.base_url, timeout=60) as client:
            response = await client.post("/v1/ask", json={"question": DANGER})
    assert response.status_code == 200, response.text
    body = response.json()
    check_ask_object(body)
    assert body["outcome"] == "red_flag"
    assert "999" in body["answer"] or "now" in body["answer"]
    assert "saved your request" in body["answer"]
    assert body["escalation"]["status"] == "saved"
    assert len(list(spool_dir.glob("*.json"))) == before + 1

    report = await services.escalations.recover(services.clock())
    assert report.replayed >= 1
    assert not list(spool_dir.glob("*.json"))
    with services.sessions() as session:
        stored = session.scalars(
            select(EscalationRow).where(EscalationRow.idempotency_key == body["escalation"]["id"])
        ).all()
    assert len(stored) == 1 and stored[0].red_flag_rule == body["red_flag"]["rule"]
    again = await services.escalations.recover(services.clock())
    assert again.replayed == 0

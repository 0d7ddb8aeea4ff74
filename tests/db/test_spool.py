"""The database down during a turn, on SQLite and PostgreSQL: the escalation is kept in
the local spool and opened, booked and alerted once when the database answers again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from escalation.errors import EscalationDeferredError
from escalation.record_models import NewEscalation
from escalation.service import EscalationService
from escalation.spool import EscalationSpool
from tests.db.test_recovery import Deployment
from tests.escalation.test_service import MONDAY_7AM, Clock, new


@contextmanager
def database_down(engine: Engine) -> Iterator[None]:
    """Every statement fails as it does when the server is gone."""

    def refuse(*_: Any) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def spooled(
    database_url: str, tmp_path: Path, http: httpx.AsyncClient
) -> tuple[Deployment, EscalationSpool, Clock]:
    clock = Clock(MONDAY_7AM)
    deployment = Deployment(database_url, clock, http)
    spool = EscalationSpool(tmp_path / "spool")
    deployment.service = EscalationService(
        deployment.repository,
        deployment.book,
        deployment.outbox,
        clock,
        horizon_days=28,
        spool=spool,
    )
    return deployment, spool, clock


def engine_of(deployment: Deployment) -> Engine:
    bind = deployment.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


async def test_an_escalation_made_while_the_database_is_down_is_kept_then_opened_once(
    spooled: tuple[Deployment, EscalationSpool, Clock],
) -> None:
    deployment, spool, clock = spooled
    first: NewEscalation = new(key="turn:down-1")
    with database_down(engine_of(deployment)):
        with pytest.raises(EscalationDeferredError):
            await deployment.service.open(first)
        with pytest.raises(EscalationDeferredError):  # a retry of the same turn
            await deployment.service.open(first)
        assert len(spool) == 2
        with pytest.raises(OperationalError):  # the periodic job logs it and tries again
            await deployment.service.recover(clock.now)
        assert len(spool) == 2  # nothing lost while down

    clock.now += timedelta(minutes=1)
    report = await deployment.service.recover(clock.now - timedelta(seconds=30))
    assert report.replayed == 2 and len(spool) == 0
    stored = await deployment.service.list()
    mine = [e for e in stored if e.idempotency_key == "turn:down-1"]
    assert len(mine) == 1, "the retry's spooled copy must not open a second escalation"
    assert mine[0].appointment is not None
    assert deployment.created_alerts(mine[0].id) == 1
    again = await deployment.service.recover(clock.now)
    assert not again.changed


async def test_an_unreadable_spool_file_is_set_aside_not_lost(
    spooled: tuple[Deployment, EscalationSpool, Clock], tmp_path: Path
) -> None:
    deployment, spool, clock = spooled
    spool.put(new(key="turn:good"))
    (tmp_path / "spool" / "00000000000000000000-broken.json").write_text("{not json")
    report = await deployment.service.recover(clock.now)
    assert report.replayed == 1
    assert (tmp_path / "spool" / "00000000000000000000-broken.bad").exists()

"""A server killed with SIGKILL in the middle of a burst of escalating turns, then restarted.

The real command (`aftercare serve`) in its own process, on SQLite and PostgreSQL; 40 named
patients ask for a person at once and the process is killed while their escalations are
being opened, booked and alerted. After a restart, every escalation must be booked or
flagged for a coordinator with the reason, no slot may be held without its escalation, and
each escalation's alert must reach the coordinators exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.people.desk import open_people
from app.settings import Settings
from escalation.database import make_engine, make_sessionmaker
from escalation.record_tables import AppointmentRow, EscalationRow
from tests.escalation.receivers import WebhookReceiver
from tests.support.loopback import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures"
PATIENTS = 40
READY_TIMEOUT_S = 600.0
ASK = "I would like to speak to a nurse please, can someone call me"


def server_env(root: Path, database_url: str, webhook: str) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "AFTERCARE_DATA_DIR": str(root / "data"),
        "AFTERCARE_CORPUS_DIR": str(root / "corpus"),
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_ESCALATION__WEBHOOK_URL": webhook,
        "AFTERCARE_ESCALATION__WEBHOOK_SECRET": "kill-test-secret",
        "AFTERCARE_ESCALATION__RECOVERY_INTERVAL_S": "1",
        "AFTERCARE_ESCALATION__RECOVERY_GRACE_S": "0",
        "AFTERCARE_SECURITY__RATE_ASK": "100000/minute",
        "AFTERCARE_SECURITY__RATE_AUTH_FAILURES": "100000/minute",
    }


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.operations.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited early (code {server.returncode})")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not become ready")


async def burst(base: str, patients: list[tuple[str, str]], kill: subprocess.Popen[bytes]) -> int:
    """Fire every request at once; kill the server once a few have been answered."""
    answered = 0

    async def one(client: httpx.AsyncClient, patient_id: str, key: str) -> None:
        nonlocal answered
        try:
            response = await client.post(
                base + "/v1/ask",
                json={"question": ASK, "patient_id": patient_id},
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            answered += 1
            if answered == 5 and kill.poll() is None:
                kill.send_signal(signal.SIGKILL)

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, p, k) for p, k in patients))
    if kill.poll() is None:  # every answer came before the fifth was counted: kill anyway
        kill.send_signal(signal.SIGKILL)
    kill.wait(timeout=30)
    return answered


@pytest.mark.timeout(1500)
def test_killed_mid_burst_every_escalation_is_finished_once(
    tmp_path: Path, database_url: str
) -> None:
    shutil.copytree(FIXTURES / "corpus", tmp_path / "corpus")
    receiver = WebhookReceiver().start()
    try:
        env = server_env(tmp_path, database_url, receiver.url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path / "data",
            corpus_dir=tmp_path / "corpus",
            database_url=database_url,
        )
        upgrade = [sys.executable, "-m", "app.operations.cli", "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True, timeout=120)
        desk = open_people(settings)
        patients = [
            (f"pt-{i:02d}", desk.people.add_patient(f"pt-{i:02d}", f"Patient {i}")[1])
            for i in range(PATIENTS)
        ]
        desk.engine.dispose()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        first = start_server(env, port)
        try:
            wait_ready(base, first)
            answered = asyncio.run(burst(base, patients, first))
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL
        assert answered < PATIENTS, "the kill came too late to interrupt anything"

        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            opened = len(session.scalars(select(EscalationRow.id)).all())
        assert opened >= answered

        second = start_server(env, port)
        try:
            wait_ready(base, second)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with sessions() as session:
                    rows = list(session.scalars(select(EscalationRow)))
                unfinished = [r for r in rows if r.appointment_id is None and not r.needs_attention]
                alerted = Counter(
                    str(r.json().get("escalation_id"))
                    for r in receiver.received()
                    if r.status == 200 and r.json().get("event") == "escalation.created"
                )
                if not unfinished and all(alerted[r.id] >= 1 for r in rows):
                    break
                time.sleep(0.5)
            time.sleep(3)  # a second recovery pass must not alert again
            with sessions() as session:
                rows = list(session.scalars(select(EscalationRow)))
                booked = list(
                    session.scalars(select(AppointmentRow).where(AppointmentRow.status == "booked"))
                )
        finally:
            second.terminate()
            second.wait(timeout=60)
        engine.dispose()

        by_id = {r.id: r for r in rows}
        for row in rows:
            assert row.appointment_id is not None or (
                row.needs_attention and row.attention_reason
            ), f"escalation {row.id} left open with no appointment and no reason"
        for slot in booked:
            owner = by_id.get(slot.escalation_id)
            assert owner is not None and owner.appointment_id == slot.id, (
                f"slot {slot.id} is held without its escalation"
            )
        # One alert per escalation: one delivery id each. A kill between the receiver's 200
        # and the row's update resends that same delivery (same id), which receivers drop.
        deliveries: dict[str, set[str]] = {}
        for request in receiver.received():
            body = request.json()
            if request.status == 200 and body.get("event") == "escalation.created":
                ids = deliveries.setdefault(str(body.get("escalation_id")), set())
                ids.add(str(body.get("delivery_id")))
        assert {r.id for r in rows} <= set(deliveries), "an escalation was never alerted"
        twice = {k: ids for k, ids in deliveries.items() if len(ids) > 1}
        assert not twice, f"two different alerts for one escalation: {twice}"
        assert len({r.patient_id for r in rows}) == len(rows), "a patient got two escalations"
    finally:
        receiver.stop()

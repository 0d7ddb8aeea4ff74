"""The black-box abuse suite: the live app over loopback, with the default limits unless a
test says otherwise, attacked the way a script on the internet would."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select

from app.main import build_services
from app.operations.logs import configure_logging
from app.services import Services
from app.settings import SecuritySettings, Settings
from escalation.record_tables import AppointmentRow, EscalationRow
from tests.app.conftest import make_settings, serve
from tests.escalation.receivers import WebhookReceiver, wait_until

PLATFORM = "retell-test"
PLATFORM_KEY = "abuse-platform-key"
CANARY = "CANARYkey0123456789"


@dataclass
class Target:
    base_url: str
    services: Services
    settings: Settings
    webhook: WebhookReceiver
    logs: io.StringIO
    admin_key: str
    data_dir: Path

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v1/voice"

    def count(self, row: Any, *where: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(row).where(*where)) or 0)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("abuse")
    webhook = WebhookReceiver().start()
    settings = make_settings(
        root,
        platform_keys=f"{PLATFORM}:{PLATFORM_KEY}",
        escalation={
            "webhook_url": webhook.url,
            "webhook_secret": "abuse-webhook-secret",
            "alert_burst_window_s": 2.0,
        },
        # Default limits, except: the socket flood test sends 100 transcripts at once.
        security=SecuritySettings(voice_burst=100, rate_voice="1000/minute"),
    )
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    _, admin_key = services.people.add_staff("Abuse admin", "admin")
    server = serve(settings, services)
    base = server.url
    logs = io.StringIO()
    configure_logging("INFO", stream=logs)
    yield Target(base, services, settings, webhook, logs, admin_key, settings.data_dir)
    server.stop(timeout=30)
    webhook.stop()
    configure_logging("INFO")


def test_anonymous_requests_book_nothing_and_raise_one_aggregated_alert(target: Target) -> None:
    with httpx.Client(base_url=target.base_url, timeout=60) as client:
        answers = [
            client.post("/v1/ask", json={"question": "put me through to a nurse"})
            for _ in range(30)
        ]
        assert [a.status_code for a in answers] == [200] * 30
        assert all(a.json()["escalation"]["appointment"] is None for a in answers)
        # The 31st in the minute is over the default limit.
        over = client.post("/v1/ask", json={"question": "put me through to a nurse"})
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert target.count(AppointmentRow) == 0
    assert target.count(EscalationRow, EscalationRow.patient_id.is_(None)) == 30
    assert wait_until(lambda: len(target.webhook.received()) >= 1, timeout=15)
    time.sleep(1.0)  # nothing else is coming
    alerts = [r.json() for r in target.webhook.received()]
    assert len(alerts) == 1, alerts
    assert alerts[0]["event"] == "escalations.burst"
    assert alerts[0]["escalation"]["count"] == 30


async def test_a_hundred_chest_pains_on_one_socket_make_one_emergency(target: Target) -> None:
    before = target.count(EscalationRow, EscalationRow.priority == "emergency")
    async with websockets.connect(target.ws_url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.ready"
        for _ in range(100):
            await ws.send(
                json.dumps({"type": "user_transcript", "text": "I have chest pain", "final": True})
            )
        red_flags = 0
        async with asyncio.timeout(120):
            while True:
                event = json.loads(await ws.recv())
                red_flags += event["type"] == "turn.red_flag"
                if event["type"] == "turn.completed":
                    break
        assert red_flags >= 1  # the instruction is spoken at once, every time it completes
    assert await asyncio.to_thread(
        wait_until,
        lambda: target.count(EscalationRow, EscalationRow.priority == "emergency") > before,
        30,
    )
    await asyncio.sleep(1.0)  # cancelled turns' escalations finish in the background
    assert target.count(EscalationRow, EscalationRow.priority == "emergency") == before + 1
    with target.services.sessions() as session:
        row = session.scalars(
            select(EscalationRow).where(EscalationRow.priority == "emergency")
        ).one()
        # Each transcript cancels the turn before it; those that got as far as escalating
        # were added to the one escalation.
        assert 1 <= row.turn_count <= 100


def test_a_50_mb_body_gets_413_at_once(target: Target) -> None:
    port = int(target.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        started = time.monotonic()
        reply = conn.recv(4096)
        waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    assert waited < 5  # not one byte of the body was sent: it was never waited for

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 65536

    chunked = httpx.post(f"{target.base_url}/v1/ask", content=chunks(), timeout=30)
    assert chunked.status_code == 413


async def test_a_1_mb_websocket_frame_closes_the_socket_with_1009(target: Target) -> None:
    async with websockets.connect(target.ws_url, max_size=None) as ws:
        await ws.recv()
        await ws.send("x" * (1024 * 1024))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_500_sockets_from_one_address_are_refused_past_the_cap(target: Target) -> None:
    cap = target.settings.security.max_sockets_per_address
    assert cap == 20  # the default
    opened: list[Any] = []
    refused = 0
    gate = asyncio.Semaphore(50)

    async def attempt() -> None:
        nonlocal refused
        async with gate:
            try:
                ws = await websockets.connect(target.ws_url, open_timeout=10)
            except websockets.InvalidStatus as exc:
                assert exc.response.status_code == 403
                refused += 1
                return
            opened.append(ws)

    async with asyncio.timeout(60):
        await asyncio.gather(*(attempt() for _ in range(500)))
    try:
        assert len(opened) == cap and refused == 500 - cap
        assert target.services.sockets.open_for("127.0.0.1") == cap
    finally:
        await asyncio.gather(*(ws.close() for ws in opened))
    # Closed sockets free their places.
    assert await asyncio.to_thread(
        wait_until, lambda: target.services.sockets.open_for("127.0.0.1") == 0, 10
    )
    async with websockets.connect(target.ws_url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.ready"


async def test_a_canary_key_in_a_url_never_reaches_the_logs(target: Target) -> None:
    _, key = target.services.people.add_patient("p-canary", "Canaryname Smithson")
    secret_question = "zebra-marker what about my quiet question"
    async with httpx.AsyncClient(base_url=target.base_url, timeout=60) as client:
        await client.get(f"/?patient_id=p-canary&key={CANARY}")
        await client.post(f"/v1/avatar/tavus/callback?token={CANARY}", json={})
        await client.get(f"/v1/escalations?key={CANARY}&code={CANARY}")
    async with websockets.connect(f"{target.ws_url}?patient_id=p-canary&key={CANARY}") as ws:
        await ws.recv()
    async with websockets.connect(target.ws_url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.start", "patient_id": "p-canary", "key": key}))
        assert json.loads(await ws.recv())["patient_id"] == "p-canary"
        await ws.send(json.dumps({"type": "user_transcript", "text": secret_question}))
        async with asyncio.timeout(60):
            while json.loads(await ws.recv())["type"] != "turn.completed":
                pass
    await asyncio.sleep(0.5)
    captured = target.logs.getvalue()
    lines = [json.loads(line) for line in captured.splitlines() if line.strip()]
    assert lines and all({"time", "level", "message", "request_id"} <= set(ln) for ln in lines)
    assert any("[redacted]" in ln["message"] for ln in lines)
    for secret in (CANARY, key, "p-canary", "Canaryname", "Smithson", "zebra-marker"):
        assert secret not in captured, secret


def test_a_forged_platform_request_cannot_attach_a_turn_to_a_patient(target: Target) -> None:
    target.services.people.add_patient("p-victim", "Victim Patient")
    body = {
        "model": "aftercare",
        "user": "p-victim",
        "messages": [{"role": "user", "content": "what happens at my follow-up?"}],
    }
    forged: list[dict[str, Any]] = [
        {},
        {"Authorization": "Bearer not-the-key"},
        {"Authorization": f"Basic {PLATFORM_KEY}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer ключ".encode()},
        {"Authorization": f"Bearer {PLATFORM_KEY}x"},
    ]
    for headers in forged:
        answer = httpx.post(
            f"{target.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30
        )
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "invalid_api_key"
    trail = target.services.people.audit_trail("p-victim")
    assert [row.action for row in trail] == ["patient.create"]
    assert target.services.turns.recent(patient_id="p-victim") == []
    denied = [r for r in target.services.people.audit_trail() if r.action == "platform.auth"]
    assert len(denied) >= len(forged) and all(r.outcome == "denied" for r in denied)
    # The real platform key works, but even it cannot name a patient: callers are known
    # only by their number confirmed with a date of birth.
    real = httpx.post(
        f"{target.base_url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {PLATFORM_KEY}"},
        timeout=60,
    )
    assert real.status_code == 200
    assert [row.action for row in target.services.people.audit_trail("p-victim")] == [
        "patient.create"
    ]
    assert target.services.turns.recent(patient_id="p-victim") == []


def test_malformed_staff_credentials_get_401_never_500(target: Target) -> None:
    for header in (
        "Bearer ключ".encode(),
        b"Bearer \xff\xfe",
        "Token abc",
        "Bearer",
        "",
        "Bearer " + "a" * 5000,
    ):
        answer = httpx.get(
            f"{target.base_url}/v1/escalations", headers={"Authorization": header}, timeout=30
        )
        assert answer.status_code in (401, 429), (header, answer.status_code)
        if answer.status_code == 429:
            assert "Retry-After" in answer.headers


def cli(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AFTERCARE_DATA_DIR": str(target.data_dir),
        "AFTERCARE_CORPUS_DIR": str(target.settings.corpus_dir),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.operations.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_audit_trail_refuses_deletes_and_verify_detects_tampering(target: Target) -> None:
    verified = cli(target, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["rows"] > 10
    database = target.data_dir / "aftercare.db"
    with sqlite3.connect(database) as db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_events WHERE id = 3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_events SET actor = 'nobody' WHERE id = 3")
    # Someone with the database file drops the trigger and edits a row behind its back.
    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER audit_events_no_update")
        db.execute("UPDATE audit_events SET detail = 'nothing to see' WHERE id = 3")
    tampered = cli(target, "audit", "verify")
    assert tampered.returncode == 4
    assert json.loads(tampered.stdout) == {
        "ok": False,
        "rows": 3,
        "broken_at": 3,
        "problem": "its content does not match its hash",
    }

"""The real app in a process of its own on loopback, for the load benchmarks.

The load generator then does not share the server's interpreter lock, so its figures are
the server's.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from pathlib import Path

import httpx

READY_TIMEOUT_S = 600.0

# Load comes from one address: the per-address limits would refuse it, and the figures are
# the server's, not the limits'.
UNLIMITED = {
    "rate_ask": "1000000/minute",
    "rate_chat": "1000000/minute",
    "rate_voice": "1000000/minute",
    "rate_avatar": "1000000/minute",
    "rate_auth_failures": "1000000/minute",
    "voice_burst": 1000000,
    "voice_refill_per_s": 1000000.0,
    "max_sockets_per_address": 1000000,
    "max_sockets_per_patient": 1000000,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    data_dir: str,
    corpus: str,
    port: int,
    voice_ack_after_s: float = 0.8,
    platform_key: str | None = None,
) -> None:
    """The server process: the real app, built from settings, under uvicorn."""
    import uvicorn

    from app.channels.serving import uvicorn_config
    from app.main import create_app
    from app.settings import Settings

    # One warning per escalation (no coordinator channel here) would drown the figures.
    logging.getLogger().setLevel(logging.ERROR)
    settings = Settings(
        _env_file=None,
        data_dir=Path(data_dir),
        corpus_dir=Path(corpus),
        voice_ack_after_s=voice_ack_after_s,
        log_level="ERROR",
        security=UNLIMITED,
        platform_keys=platform_key or "",
    )
    uvicorn.Server(uvicorn_config(create_app(settings), settings, "127.0.0.1", port)).run()


def register_patients(data_dir: str, count: int) -> list[tuple[str, str]]:
    """``count`` registered patients (id, key) in the server's database: unidentified
    callers are never booked, so load that must book asks as patients."""
    from app.people.desk import open_people
    from app.settings import Settings

    desk = open_people(Settings(_env_file=None, data_dir=Path(data_dir)))  # type: ignore[call-arg]
    made = []
    for n in range(count):
        patient, key = desk.people.add_patient(f"load-{n}", f"Load patient {n}")
        made.append((patient.id, key))
    desk.engine.dispose()
    return made


def wait_ready(base: str, server: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not server.is_alive():
            raise SystemExit(f"the server exited early (code {server.exitcode})")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready in time")


def stop(server: multiprocessing.process.BaseProcess) -> None:
    server.terminate()
    server.join(timeout=30)
    if server.is_alive():
        server.kill()
        server.join()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -SIGTERM is a clean exit.
    if server.exitcode not in (0, -signal.SIGTERM):
        print(f"the server exited with code {server.exitcode}")

"""Slow bookings: how long a patient waits, and how long until his text arrives.

N patients ask for a person at once on POST /v1/ask; appointments are booked on a local FHIR
server that answers each request after ``--fhir-delay`` seconds (a slow clinic system), and
texts go to a local gateway speaking Twilio's Messages API. Half the patients have a phone
number on their record (they hear "I'll send you a text" once the clinic's patience, 2.5 s by
default, runs out); the other half have none (they wait for the whole booking, as before).

Prints, per group, the time until the answer (p50, p95) and, for the texted group, the time
from the question until the gateway received the text. Exit 1 when a texted patient gets no
text or a booking is missing.

    python benchmarks/follow_up_texts.py [--patients 20] [--fhir-delay 1.0] [--patience 2.5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
import yaml
from live_server import UNLIMITED, free_port
from stand_ins import SlowFhirBook, TextInbox

from app.channels.serving import uvicorn_config
from app.main import build_services, create_app
from app.operations.evaluation import percentile
from app.services import Services
from app.settings import Settings
from escalation.clinic import DEFAULT_CLINIC_FILE

ROOT = Path(__file__).resolve().parents[1]


def start(settings: Settings, services: Services) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(create_app(settings, services), settings, "127.0.0.1", port)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return server, thread, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the app did not become ready")


async def ask(
    client: httpx.AsyncClient, base: str, patient: str, key: str
) -> tuple[str, float, dict]:
    started = time.monotonic()
    response = await client.post(
        base + "/v1/ask",
        json={"question": "Can I speak to a nurse please?", "patient_id": patient},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    return patient, time.monotonic() - started, response.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--fhir-delay", type=float, default=1.0)
    parser.add_argument("--patience", type=float, default=2.5)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)

    work = Path(tempfile.mkdtemp(prefix="aftercare-texts-"))
    first = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    book = SlowFhirBook(
        "nurse-patel",
        "nurse Patel",
        [first + timedelta(minutes=20 * i) for i in range(args.patients * 3)],
    )
    fhir = book.serve()
    inbox = TextInbox()
    gateway = inbox.serve()
    try:
        clinic = yaml.safe_load(DEFAULT_CLINIC_FILE.read_text())
        clinic["care_team"]["booking_patience_s"] = args.patience
        (work / "clinic.yaml").write_text(yaml.safe_dump(clinic))
        settings = Settings(
            _env_file=None,
            data_dir=work / "data",
            corpus_dir=ROOT / "tests" / "fixtures" / "corpus",
            clinic_config=work / "clinic.yaml",
            security=UNLIMITED,
            log_level="ERROR",
            escalation={
                "scheduler": "fhir",
                "fhir_base_url": fhir.url + "/fhir",
                "fhir_schedule_ids": "s-patel",
                "sms_base_url": gateway.url,
                "sms_account_sid": "ACbenchmark",
                "sms_auth_token": "benchmark-token",
                "sms_from": "+441223000002",
                "alert_base_delay_s": 0.2,
            },
        )
        services = build_services(settings)
        people: list[tuple[str, str, str | None]] = []
        for i in range(args.patients):
            phone = f"+4479121{i:05d}" if i % 2 == 0 else None
            _, key = services.people.add_patient(f"bench-{i}", f"Patient {i}", phone=phone)
            people.append((f"bench-{i}", key, phone))
        server, thread, base = start(settings, services)
        book.delay_s = args.fhir_delay

        async def run() -> list[tuple[str, float, dict]]:
            async with httpx.AsyncClient(timeout=300) as client:
                return await asyncio.gather(*(ask(client, base, p, k) for p, k, _ in people))

        began = time.monotonic()
        results = asyncio.run(run())
        phones = {p: phone for p, _, phone in people}
        texted = [took for p, took, _ in results if phones[p]]
        waited = [took for p, took, _ in results if not phones[p]]
        expected = sum(1 for phone in phones.values() if phone)
        deadline = time.monotonic() + 300
        arrivals: dict[str, float] = {}
        while time.monotonic() < deadline and len(arrivals) < expected:
            arrivals = {to: at - began for to, at in inbox.arrivals.items()}
            time.sleep(0.05)
        promised = sum(
            1 for p, _, body in results if phones[p] and "text message" in body["answer"]
        )
        booked_in_answer = sum(
            1 for p, _, body in results if not phones[p] and body["escalation"]["appointment"]
        )
        times = list(arrivals.values())

        def spread(values: list[float]) -> str:
            return f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s"

        print(
            f"patients: {args.patients} at once; FHIR answers each request after "
            f"{args.fhir_delay:g} s; patience {args.patience:g} s"
        )
        print(
            f"with a phone number ({len(texted)}): answer {spread(texted)}; "
            f"told of a text: {promised}/{len(texted)}"
        )
        print(
            f"  text received by the gateway: {len(times)}/{expected}; {spread(times)} "
            "after the question"
        )
        print(
            f"without one ({len(waited)}): answer {spread(waited)}; "
            f"booked in the answer: {booked_in_answer}/{len(waited)}"
        )
        server.should_exit = True
        thread.join(timeout=30)
        ok = len(times) == expected and promised == len(texted) and booked_in_answer == len(waited)
        return 0 if ok else 1
    finally:
        gateway.stop()
        fhir.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""The FHIR scheduler against a local FHIR R4 server speaking the same interactions."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from escalation.clinic import load_clinic_config
from escalation.database import create_tables, make_engine, make_sessionmaker
from escalation.errors import SchedulerUnavailableError, UnknownAppointmentError
from escalation.fhir import BOOKING_SYSTEM, ESCALATION_SYSTEM, FhirScheduler
from escalation.record_models import NewEscalation
from escalation.records import EscalationRepository
from escalation.scheduling import BookingRequest
from escalation.service import EscalationService
from tests.escalation.fhir_server import FhirServer, FhirState

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 07:00 in London
TEAM = load_clinic_config().care_team
TOKEN = "fhir-test-token"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[FhirServer]:
    running = FhirServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fhir(server: FhirServer) -> FhirState:
    state = server.reset()
    state.token = TOKEN
    state.add_schedule("s-patel", "nurse-patel", "nurse Patel")
    state.add_schedule("s-hughes", "dr-hughes", "Doctor Hughes")
    state.add_slots("s-patel", [at(2, 7, 40), at(2, 9, 0), at(3, 9, 0)])
    state.add_slots("s-hughes", [at(2, 8, 20), at(2, 16, 0)])
    return state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as made:
        yield made


def scheduler(
    client: httpx.AsyncClient, server: FhirServer, timeout_s: float = 5.0, now: datetime = NOW
) -> FhirScheduler:
    return FhirScheduler(
        client,
        server.base_url,
        ["s-patel", "s-hughes"],
        TEAM,
        lambda: now,
        token=SecretStr(TOKEN),
        timeout_s=timeout_s,
    )


def booking(key: str = "esc-1:booking:0", priority: str = "routine") -> BookingRequest:
    return BookingRequest(
        escalation_id="esc-1",
        patient_id="p-42",
        priority=priority,  # type: ignore[arg-type]
        idempotency_key=key,
        not_before=NOW,
        description="Aftercare escalation (routine)",
    )


async def test_books_the_earliest_slot_with_the_documented_requests(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    appointment = await scheduler(client, server).book(booking())
    assert appointment is not None
    # 07:40 is less than an hour away; Doctor Hughes at 08:20 is the earliest after that.
    assert (appointment.clinician_id, appointment.clinician_name) == ("dr-hughes", "Doctor Hughes")
    assert (appointment.start, appointment.end) == (at(2, 8, 20), at(2, 8, 40))
    assert appointment.escalation_id == "esc-1" and appointment.status == "booked"
    assert appointment.external_ref == f"{server.base_url}/Appointment/{appointment.id}"

    assert [r.path for r in fhir.of("GET", "")] == [
        "/fhir/Appointment",
        "/fhir/Schedule/s-patel",
        "/fhir/Slot",
        "/fhir/Schedule/s-hughes",
        "/fhir/Slot",
    ]
    lookup = fhir.of("GET", "/Appointment")[0]
    assert ("identifier", f"{BOOKING_SYSTEM}|esc-1:booking:0") in lookup.query
    search = fhir.of("GET", "/Slot")[0]
    assert search.query == [
        ("schedule", "Schedule/s-patel"),
        ("status", "free"),
        ("start", "ge2026-03-02T08:00:00Z"),
        ("start", "lt2026-03-30T07:00:00Z"),
        ("_sort", "start"),
        ("_count", "50"),
    ]
    for recorded in fhir.requests:
        assert recorded.headers["authorization"] == f"Bearer {TOKEN}"
        assert recorded.headers["accept"] == "application/fhir+json"
    (post,) = fhir.of("POST", "/Appointment")
    assert post.headers["content-type"] == "application/fhir+json"
    assert post.headers["if-none-exist"] == f"identifier={BOOKING_SYSTEM}|esc-1:booking:0"
    body = post.body
    assert body["resourceType"] == "Appointment" and body["status"] == "booked"
    (hughes_slot,) = [s for s in fhir.slots.values() if s["start"] == "2026-03-02T08:20:00Z"]
    assert body["slot"] == [{"reference": f"Slot/{hughes_slot['id']}"}]
    assert (body["start"], body["end"]) == ("2026-03-02T08:20:00Z", "2026-03-02T08:40:00Z")
    assert body["participant"] == [
        {"actor": {"reference": "Patient/p-42"}, "status": "accepted"},
        {
            "actor": {"reference": "Practitioner/dr-hughes", "display": "Doctor Hughes"},
            "status": "accepted",
        },
    ]
    assert {"system": BOOKING_SYSTEM, "value": "esc-1:booking:0"} in body["identifier"]
    assert {"system": ESCALATION_SYSTEM, "value": "esc-1"} in body["identifier"]
    assert body["reasonCode"] == [{"text": "Aftercare escalation (routine)"}]
    assert hughes_slot["status"] == "busy"


async def test_a_retry_returns_the_same_appointment_and_books_nothing(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server)
    first = await book.book(booking())
    again = await book.book(booking())
    assert first is not None and again == first
    assert len(fhir.of("POST", "/Appointment")) == 1 and len(fhir.appointments) == 1


async def test_concurrent_retries_meet_at_the_conditional_create(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server)
    first, second = await asyncio.gather(book.book(booking()), book.book(booking()))
    assert first is not None and second is not None and first.id == second.id
    assert len(fhir.appointments) == 1
    assert len(fhir.of("POST", "/Appointment")) == 2  # the second matched If-None-Exist


@pytest.mark.parametrize("status", [409, 412])
async def test_a_slot_taken_meanwhile_moves_on_to_the_next(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState, status: int
) -> None:
    fhir.steal = 1
    fhir.conflict_status = status
    appointment = await scheduler(client, server).book(booking())
    assert appointment is not None
    assert (appointment.clinician_id, appointment.start) == ("nurse-patel", at(2, 9, 0))
    posts = fhir.of("POST", "/Appointment")
    assert [p.body["start"] for p in posts] == ["2026-03-02T08:20:00Z", "2026-03-02T09:00:00Z"]


async def test_next_pages_are_followed_when_the_first_runs_out(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    fhir.max_page = 1
    fhir.steal = 2
    appointment = await scheduler(client, server).book(booking())
    assert appointment is not None
    pages = [r for r in fhir.of("GET", "/fhir") if r.path == "/fhir"]
    assert pages and ("_getpagesoffset", "1") in pages[0].query
    # 08:20 and 09:00 were taken; the next pages hold 16:00 (Hughes) and 09:00 tomorrow.
    assert (appointment.clinician_id, appointment.start) == ("dr-hughes", at(2, 16, 0))


async def test_urgent_is_same_day_and_emergency_is_never_booked(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server, now=at(2, 15, 0))
    urgent = await book.book(booking("u", "urgent"))
    assert urgent is not None and urgent.start == at(2, 16, 0)
    assert await book.book(booking("u2", "urgent")) is None  # nothing else today
    before = len(fhir.requests)
    assert await book.book(booking("e", "emergency")) is None
    assert len(fhir.requests) == before
    search = fhir.of("GET", "/Slot")[0]
    assert ("start", "lt2026-03-03T00:00:00Z") in search.query


async def test_server_errors_timeouts_and_refusals_are_unavailable(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    fhir.fail_with = [500]
    with pytest.raises(SchedulerUnavailableError, match="HTTP 500"):
        await scheduler(client, server).book(booking())
    fhir.delay_s = 1.0
    with pytest.raises(SchedulerUnavailableError, match="in time"):
        await scheduler(client, server, timeout_s=0.2).book(booking())
    fhir.delay_s = 0.0
    fhir.token = "another-token"
    with pytest.raises(SchedulerUnavailableError, match="HTTP 401"):
        await scheduler(client, server).book(booking())
    assert fhir.appointments == {}


async def test_a_failing_booking_post_is_unavailable(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server)
    # The look-up, two schedule reads and two slot searches pass; the POST fails.
    fhir.fail_with = []
    original = fhir.requests

    class FailPost(list[Any]):
        def append(self, item: Any) -> None:
            super().append(item)
            if item.method == "POST":
                fhir.fail_with.append(503)

    fhir.requests = FailPost(original)
    with pytest.raises(SchedulerUnavailableError, match="HTTP 503"):
        await book.book(booking())
    assert fhir.appointments == {}


async def test_an_unreachable_server_is_unavailable(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    book = FhirScheduler(client, f"http://127.0.0.1:{port}/fhir", ["s"], TEAM, lambda: NOW)
    with pytest.raises(SchedulerUnavailableError, match="could not be reached"):
        await book.book(booking())


async def test_cancel_patches_the_status_and_frees_the_slot(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server)
    appointment = await book.book(booking())
    assert appointment is not None
    await book.cancel(appointment.id)
    (patch,) = fhir.of("PATCH", f"/Appointment/{appointment.id}")
    assert patch.headers["content-type"] == "application/json-patch+json"
    assert patch.body == [{"op": "replace", "path": "/status", "value": "cancelled"}]
    assert fhir.appointments[appointment.id]["status"] == "cancelled"
    assert all(s["status"] == "free" for s in fhir.slots.values())
    with pytest.raises(UnknownAppointmentError):
        await book.cancel("no-such-appointment")


async def test_list_appointments_searches_this_deployments_bookings(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState
) -> None:
    book = scheduler(client, server)
    first = await book.book(booking("k1"))
    second = await book.book(booking("k2"))
    assert first is not None and second is not None
    listed = await book.list_appointments(at(2, 0), at(3, 0))
    assert [a.id for a in listed] == [first.id, second.id]
    assert listed[0].escalation_id == "esc-1"
    query = fhir.of("GET", "/Appointment")[-1].query
    assert ("identifier", f"{BOOKING_SYSTEM}|") in query and ("status", "booked") in query
    assert ("date", "ge2026-03-02T00:00:00Z") in query
    await book.cancel(first.id)
    assert [a.id for a in await book.list_appointments(at(2, 0), at(3, 0))] == [second.id]


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def enqueue(self, escalation_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((escalation_id, event, payload))


async def test_the_service_books_through_fhir_and_keeps_a_local_copy(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fhir.db'}")
    create_tables(engine)
    repository = EscalationRepository(make_sessionmaker(engine), lambda: NOW)
    alerts = Alerts()
    service = EscalationService(repository, scheduler(client, server), alerts, lambda: NOW)
    escalation = await service.open(
        NewEscalation(
            patient_id="p-42",
            question="Can I drive?",
            reason="low_confidence",
            priority="routine",
            idempotency_key="turn-1",
        )
    )
    assert escalation.status == "booked" and escalation.appointment is not None
    assert escalation.appointment.external_ref is not None
    assert escalation.appointment.id in fhir.appointments
    cancelled = await service.cancel(escalation.id, "staff:k-1", "patient called")
    assert cancelled.status == "cancelled" and cancelled.appointment is None
    assert fhir.appointments[escalation.appointment.id]["status"] == "cancelled"
    assert [e for _, e, _ in alerts.sent] == ["escalation.created", "escalation.cancelled"]


async def test_the_service_keeps_the_escalation_when_fhir_fails(
    client: httpx.AsyncClient, server: FhirServer, fhir: FhirState, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fhir.db'}")
    create_tables(engine)
    repository = EscalationRepository(make_sessionmaker(engine), lambda: NOW)
    alerts = Alerts()
    service = EscalationService(repository, scheduler(client, server), alerts, lambda: NOW)
    fhir.fail_with = [503, 503, 503]
    escalation = await service.open(
        NewEscalation(patient_id="p-1", question="?", reason="patient_request", priority="routine")
    )
    assert escalation.status == "open" and escalation.needs_attention
    assert escalation.attention_reason == "appointment system unavailable: book by hand"
    assert [e for _, e, _ in alerts.sent] == ["escalation.created"]
    assert alerts.sent[0][2]["needs_attention"] is True


def test_next_links_are_followed_only_on_the_servers_own_origin() -> None:
    from escalation.fhir import _next_link

    base = "https://fhir.example.org/r4"

    def bundle(url: str) -> dict[str, object]:
        return {"link": [{"relation": "self", "url": base}, {"relation": "next", "url": url}]}

    assert _next_link(bundle(f"{base}?page=2"), base) == f"{base}?page=2"
    assert _next_link(bundle("https://fhir.example.org:443/r4?page=2"), base) is not None
    for elsewhere in (
        "https://attacker.example/collect?page=2",
        "http://fhir.example.org/r4?page=2",
        "https://fhir.example.org:8443/r4?page=2",
        "https://fhir.example.org.attacker.example/r4",
    ):
        assert _next_link(bundle(elsewhere), base) is None, elsewhere

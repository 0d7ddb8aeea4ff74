"""Booking in a clinic's own appointment system over HL7 FHIR R4 (JSON, ``application/fhir+json``).

Interactions, all against ``base_url``:

- read each ``Schedule/{id}`` once, for the practitioner it belongs to (``Schedule.actor``);
- search free slots: ``GET Slot?schedule=Schedule/{id}&status=free&start=ge..&start=lt..
  &_sort=start&_count=50`` (a searchset Bundle; ``next`` links are followed when the first
  page runs out), one search per schedule, the window set by ``search_window``;
- pick with the same pure ``choose_slot`` as the built-in book;
- book: ``POST Appointment`` (status ``booked``, the slot, the patient and practitioner as
  participants) as a conditional create, ``If-None-Exist: identifier=<system>|<key>``, so a
  retried booking returns the appointment the first attempt made. 409 or 412 means the slot
  went meanwhile: the next slot is tried;
- find by key: ``GET Appointment?identifier=<system>|<key>`` before searching slots;
- cancel: ``PATCH Appointment/{id}`` with a JSON Patch (``application/json-patch+json``)
  replacing ``/status`` with ``cancelled``. PATCH rather than PUT: it changes only the
  status and needs no read-modify-write of the whole resource; the server frees the slot;
- list: ``GET Appointment?identifier=<system>|&status=booked&date=ge..&date=lt..``
  (appointments this deployment made).

Server errors (5xx), timeouts and unreachable servers raise ``SchedulerUnavailableError``.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from escalation.clinic import CareTeam
from escalation.errors import SchedulerUnavailableError, UnknownAppointmentError
from escalation.record_models import Appointment
from escalation.scheduling import BookingRequest, Slot, choose_slot, search_window

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
BOOKING_SYSTEM = "urn:aftercare:booking"
"""Identifier system of the idempotency key on every appointment this deployment books."""
ESCALATION_SYSTEM = "urn:aftercare:escalation"
"""Identifier system of the escalation id on every appointment this deployment books."""
MAX_PAGES = 20


def fhir_instant(value: datetime) -> str:
    """A FHIR instant in UTC with a ``Z`` (no ``+`` to escape in a query string)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class FhirScheduler:
    """A ``Scheduler`` speaking FHIR R4 to the clinic's appointment system."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        schedule_ids: Sequence[str],
        care_team: CareTeam,
        clock: Callable[[], datetime],
        *,
        token: SecretStr | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._schedule_ids = list(schedule_ids)
        self._care_team = care_team
        self._clock = clock
        self._token = token
        self._timeout = httpx.Timeout(timeout_s)
        self._practitioners: dict[str, tuple[str, str]] = {}

    # the Scheduler protocol

    async def book(self, request: BookingRequest) -> Appointment | None:
        now = self._clock()
        window = search_window(request.priority, now, self._care_team, request.not_before)
        if window is None:
            return None
        existing = await self._find(f"{BOOKING_SYSTEM}|{request.idempotency_key}")
        if existing:
            return self._appointment(existing[0], request.escalation_id)
        pages = [
            await self._first_slot_page(schedule_id, *window) for schedule_id in self._schedule_ids
        ]
        free: list[Slot] = [slot for page in pages for slot in page[0]]
        nexts: list[str | None] = [page[1] for page in pages]
        for _ in range(MAX_PAGES):
            while True:
                slot = choose_slot(free, request.priority, now, self._care_team, request.not_before)
                if slot is None:
                    break
                created = await self._create(request, slot)
                if created is not None:
                    return self._appointment(created, request.escalation_id)
                free.remove(slot)  # taken meanwhile: try the next one
            if not any(nexts):
                return None
            for index, link in enumerate(nexts):
                if link:
                    slots, nexts[index] = await self._slot_page(self._schedule_ids[index], link)
                    free.extend(slots)
        return None

    async def cancel(self, appointment_id: str) -> None:
        response = await self._send(
            "PATCH",
            f"{self._base}/Appointment/{appointment_id}",
            json_body=[{"op": "replace", "path": "/status", "value": "cancelled"}],
            content_type=JSON_PATCH,
        )
        if response.status_code == 404:
            raise UnknownAppointmentError(f"the appointment system has no {appointment_id}")
        self._require_ok(response, "cancelling an appointment")

    async def list_appointments(self, start: datetime, end: datetime) -> builtins.list[Appointment]:
        resources = await self._find(
            f"{BOOKING_SYSTEM}|",
            [
                ("status", "booked"),
                ("date", f"ge{fhir_instant(start)}"),
                ("date", f"lt{fhir_instant(end)}"),
            ],
        )
        found = [self._appointment(r, None) for r in resources]
        return sorted(
            (a for a in found if start <= a.start < end), key=lambda a: (a.start, a.clinician_id)
        )

    # internals

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if content_type:
            headers["Content-Type"] = content_type
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: Any = None,
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = self._headers(content_type)
        headers.update(extra_headers or {})
        content = None
        if json_body is not None:
            content = json.dumps(json_body).encode("utf-8")
        try:
            return await self._client.request(
                method,
                url,
                params=tuple(params) if params else None,
                content=content,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise SchedulerUnavailableError(
                "the appointment system did not answer in time; nothing was booked"
            ) from exc
        except httpx.HTTPError as exc:
            raise SchedulerUnavailableError(
                f"the appointment system could not be reached ({type(exc).__name__})"
            ) from exc

    @staticmethod
    def _require_ok(response: httpx.Response, doing: str) -> None:
        if response.status_code >= 500:
            raise SchedulerUnavailableError(
                f"the appointment system failed while {doing} (HTTP {response.status_code})"
            )
        if response.status_code >= 400:
            raise SchedulerUnavailableError(
                f"the appointment system refused {doing} (HTTP {response.status_code})"
            )

    @staticmethod
    def _json(response: httpx.Response, doing: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise SchedulerUnavailableError(
                f"the appointment system answered {doing} with something that is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise SchedulerUnavailableError(f"the appointment system answered {doing} oddly")
        return body

    async def _get_json(
        self, url: str, params: list[tuple[str, str]] | None, doing: str
    ) -> dict[str, Any]:
        response = await self._send("GET", url, params=params)
        self._require_ok(response, doing)
        return self._json(response, doing)

    async def _practitioner(self, schedule_id: str) -> tuple[str, str]:
        """(Practitioner id, display) of a schedule, read once."""
        known = self._practitioners.get(schedule_id)
        if known is not None:
            return known
        schedule = await self._get_json(
            f"{self._base}/Schedule/{schedule_id}", None, "reading a schedule"
        )
        found = (schedule_id, schedule_id)
        for actor in schedule.get("actor", []):
            reference = str(actor.get("reference", ""))
            if reference.startswith("Practitioner/"):
                practitioner = reference.removeprefix("Practitioner/")
                found = (practitioner, str(actor.get("display") or practitioner))
                break
        self._practitioners[schedule_id] = found
        return found

    async def _first_slot_page(
        self, schedule_id: str, start: datetime, end: datetime
    ) -> tuple[list[Slot], str | None]:
        params = [
            ("schedule", f"Schedule/{schedule_id}"),
            ("status", "free"),
            ("start", f"ge{fhir_instant(start)}"),
            ("start", f"lt{fhir_instant(end)}"),
            ("_sort", "start"),
            ("_count", "50"),
        ]
        return await self._slot_page(schedule_id, f"{self._base}/Slot", params)

    async def _slot_page(
        self, schedule_id: str, url: str, params: list[tuple[str, str]] | None = None
    ) -> tuple[list[Slot], str | None]:
        practitioner, display = await self._practitioner(schedule_id)
        bundle = await self._get_json(url, params, "searching free slots")
        slots = []
        for resource in _resources(bundle, "Slot"):
            if resource.get("status", "free") != "free":
                continue
            slots.append(
                Slot(
                    practitioner,
                    display,
                    _parse_instant(str(resource["start"])),
                    _parse_instant(str(resource["end"])),
                    str(resource["id"]),
                )
            )
        return slots, _next_link(bundle, self._base)

    async def _create(self, request: BookingRequest, slot: Slot) -> dict[str, Any] | None:
        """The created (or already existing) appointment; None when the slot was taken."""
        participants: list[dict[str, Any]] = []
        if request.patient_id:
            participants.append(
                {"actor": {"reference": f"Patient/{request.patient_id}"}, "status": "accepted"}
            )
        participants.append(
            {
                "actor": {
                    "reference": f"Practitioner/{slot.clinician_id}",
                    "display": slot.clinician_name,
                },
                "status": "accepted",
            }
        )
        body = {
            "resourceType": "Appointment",
            "status": "booked",
            "identifier": [
                {"system": BOOKING_SYSTEM, "value": request.idempotency_key},
                {"system": ESCALATION_SYSTEM, "value": request.escalation_id},
            ],
            "priority": {"routine": 5, "urgent": 2, "emergency": 1}[request.priority],
            "description": request.description or "Aftercare escalation",
            "reasonCode": [{"text": request.description or "Aftercare escalation"}],
            "slot": [{"reference": f"Slot/{slot.ref}"}],
            "start": fhir_instant(slot.start),
            "end": fhir_instant(slot.end),
            "participant": participants,
        }
        response = await self._send(
            "POST",
            f"{self._base}/Appointment",
            json_body=body,
            content_type=FHIR_JSON,
            extra_headers={
                "If-None-Exist": f"identifier={BOOKING_SYSTEM}|{request.idempotency_key}",
                "Prefer": "return=representation",
            },
        )
        if response.status_code in (409, 412):
            log.info("slot %s was taken meanwhile; trying the next", slot.ref)
            return None
        self._require_ok(response, "booking an appointment")
        return self._json(response, "booking an appointment")

    async def _find(
        self, identifier: str, extra: list[tuple[str, str]] | None = None
    ) -> list[dict[str, Any]]:
        params = [("identifier", identifier), *(extra or []), ("_count", "100")]
        bundle = await self._get_json(f"{self._base}/Appointment", params, "searching appointments")
        found = list(_resources(bundle, "Appointment"))
        for _ in range(MAX_PAGES):
            link = _next_link(bundle, self._base)
            if link is None:
                break
            bundle = await self._get_json(link, None, "searching appointments")
            found.extend(_resources(bundle, "Appointment"))
        return found

    def _appointment(self, resource: dict[str, Any], escalation_id: str | None) -> Appointment:
        clinician_id, clinician_name = "", ""
        for participant in resource.get("participant", []):
            actor = participant.get("actor", {})
            reference = str(actor.get("reference", ""))
            if reference.startswith("Practitioner/"):
                clinician_id = reference.removeprefix("Practitioner/")
                clinician_name = str(actor.get("display") or clinician_id)
        for identifier in resource.get("identifier", []):
            if identifier.get("system") == ESCALATION_SYSTEM and escalation_id is None:
                escalation_id = str(identifier.get("value"))
        status = "cancelled" if resource.get("status") == "cancelled" else "booked"
        return Appointment(
            id=str(resource["id"]),
            escalation_id=escalation_id or "",
            clinician_id=clinician_id,
            clinician_name=clinician_name,
            start=_parse_instant(str(resource["start"])),
            end=_parse_instant(str(resource["end"])),
            status=status,
            external_ref=f"{self._base}/Appointment/{resource['id']}",
        )


def _resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    found = []
    for entry in bundle.get("entry", []) or []:
        resource = entry.get("resource") or {}
        mode = (entry.get("search") or {}).get("mode", "match")
        if resource.get("resourceType") == resource_type and mode == "match":
            found.append(resource)
    return found


def _next_link(bundle: dict[str, Any], base: str) -> str | None:
    """The bundle's next page, only on the server's own origin: the bearer token goes with
    every request, so a link elsewhere is never followed."""
    for link in bundle.get("link", []) or []:
        if link.get("relation") == "next" and link.get("url"):
            url = str(link["url"])
            if _origin(url) != _origin(base):
                log.warning("a FHIR next link points off the server's origin; not followed")
                return None
            return url
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port

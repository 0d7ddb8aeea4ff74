"""A small in-process FHIR R4 server for tests: Schedules, Slots and Appointments in memory.

It implements exactly the interactions ``escalation.fhir.FhirScheduler`` uses (Schedule
read, Slot search, Appointment search, conditional create and JSON Patch), marks slots busy
when booked and free when cancelled, records every request, and can be told to fail, to be
slow, or to let another booking take a slot first.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response

from tests.support.loopback import LoopbackServer

FHIR_JSON = "application/fhir+json"


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FhirState:
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    token: str | None = None
    fail_with: list[int] = field(default_factory=list)
    """Status codes to answer the next requests with, one each."""
    delay_s: float = 0.0
    steal: int = 0
    """How many bookings find their slot taken by someone else just before them."""
    conflict_status: int = 409
    max_page: int | None = None
    searches: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_schedule(self, schedule_id: str, practitioner_id: str, display: str) -> None:
        self.schedules[schedule_id] = {
            "resourceType": "Schedule",
            "id": schedule_id,
            "active": True,
            "actor": [{"reference": f"Practitioner/{practitioner_id}", "display": display}],
        }

    def add_slots(self, schedule_id: str, starts: list[datetime], minutes: int = 20) -> list[str]:
        made = []
        for start in starts:
            slot_id = f"{schedule_id}-{next(self.ids)}"
            self.slots[slot_id] = {
                "resourceType": "Slot",
                "id": slot_id,
                "schedule": {"reference": f"Schedule/{schedule_id}"},
                "status": "free",
                "start": _instant(start),
                "end": _instant(start + timedelta(minutes=minutes)),
            }
            made.append(slot_id)
        return made

    def of(self, method: str, path_end: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_end)]


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches_date(value: str, conditions: list[str]) -> bool:
    moment = _parse(value)
    for condition in conditions:
        prefix, rest = condition[:2], condition[2:]
        if prefix not in ("ge", "gt", "le", "lt", "eq"):
            prefix, rest = "eq", condition
        bound = _parse(rest)
        ok = {
            "ge": moment >= bound,
            "gt": moment > bound,
            "le": moment <= bound,
            "lt": moment < bound,
            "eq": moment == bound,
        }[prefix]
        if not ok:
            return False
    return True


def _has_identifier(resource: dict[str, Any], token: str) -> bool:
    system, _, value = token.partition("|")
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == system and (not value or identifier.get("value") == value):
            return True
    return False


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def _outcome(status: int, text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    }
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)


def _fhir(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


def build_app(server: FhirServer) -> FastAPI:
    app = FastAPI()

    async def guard(request: Request) -> Response | None:
        state = server.state
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state.requests.append(
            Recorded(
                request.method,
                request.url.path,
                list(request.query_params.multi_items()),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        if state.fail_with:
            return _outcome(state.fail_with.pop(0), "injected failure")
        if (
            state.token is not None
            and request.headers.get("authorization") != f"Bearer {state.token}"
        ):
            return _outcome(401, "not authorised")
        return None

    def bundle(
        request: Request, resources: list[dict[str, Any]], params: list[tuple[str, str]]
    ) -> Response:
        """A searchset page; later pages come from a snapshot of the result, as HAPI does."""
        query = dict(params)
        count = int(query.get("_count", "50"))
        if server.state.max_page is not None:
            count = min(count, server.state.max_page)
        offset = int(query.get("_getpagesoffset", "0"))
        search_id = query.get("_getpages")
        if search_id is None:
            search_id = f"search-{next(server.state.ids)}"
            server.state.searches[search_id] = [(r["resourceType"], r["id"]) for r in resources]
        page = resources[offset : offset + count]
        links = [{"relation": "self", "url": str(request.url)}]
        if offset + count < len(resources):
            more = [("_getpages", search_id), ("_getpagesoffset", str(offset + count))]
            links.append(
                {
                    "relation": "next",
                    "url": f"{server.base_url}?{urlencode([*more, ('_count', str(count))])}",
                }
            )
        return _fhir(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(resources),
                "link": links,
                "entry": [
                    {
                        "fullUrl": f"{server.base_url}/{r['resourceType']}/{r['id']}",
                        "resource": r,
                        "search": {"mode": "match"},
                    }
                    for r in page
                ],
            }
        )

    @app.get("/fhir")
    async def next_page(request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        params = list(request.query_params.multi_items())
        snapshot = server.state.searches.get(dict(params).get("_getpages", ""))
        if snapshot is None:
            return _outcome(410, "that search has expired")
        stores = {"Slot": server.state.slots, "Appointment": server.state.appointments}
        return bundle(request, [stores[kind][rid] for kind, rid in snapshot], params)

    @app.get("/fhir/Schedule/{schedule_id}")
    async def read_schedule(schedule_id: str, request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        schedule = server.state.schedules.get(schedule_id)
        if schedule is None:
            return _outcome(404, "no such schedule")
        return _fhir(schedule)

    @app.get("/fhir/Slot")
    async def search_slots(request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        params = list(request.query_params.multi_items())
        schedule = [v for k, v in params if k == "schedule"]
        status = [v for k, v in params if k == "status"]
        starts = [v for k, v in params if k == "start"]
        found = [
            s
            for s in server.state.slots.values()
            if (not schedule or s["schedule"]["reference"] in schedule)
            and (not status or s["status"] in status)
            and _matches_date(s["start"], starts)
        ]
        if ("_sort", "start") in params:
            found.sort(key=lambda s: _parse(s["start"]))
        return bundle(request, found, params)

    @app.get("/fhir/Appointment")
    async def search_appointments(request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        params = list(request.query_params.multi_items())
        identifiers = [v for k, v in params if k == "identifier"]
        status = [v for k, v in params if k == "status"]
        dates = [v for k, v in params if k == "date"]
        found = [
            a
            for a in server.state.appointments.values()
            if all(_has_identifier(a, token) for token in identifiers)
            and (not status or a["status"] in status)
            and _matches_date(a["start"], dates)
        ]
        found.sort(key=lambda a: _parse(a["start"]))
        return bundle(request, found, params)

    @app.post("/fhir/Appointment")
    async def create_appointment(request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        state = server.state
        if request.headers.get("content-type", "").split(";")[0] != FHIR_JSON:
            return _outcome(415, "send application/fhir+json")
        # This request's own body (another request may have been recorded meanwhile).
        body = _body(await request.body())
        if not isinstance(body, dict) or body.get("resourceType") != "Appointment":
            return _outcome(400, "not an Appointment")
        condition = request.headers.get("if-none-exist")
        if condition:
            name, _, token = condition.partition("=")
            matches = (
                [a for a in state.appointments.values() if _has_identifier(a, token)]
                if name == "identifier"
                else []
            )
            if len(matches) == 1:
                return _fhir(matches[0], 200)
            if len(matches) > 1:
                return _outcome(412, "more than one match")
        slot_ids = [str(s.get("reference", "")).removeprefix("Slot/") for s in body.get("slot", [])]
        slots = [state.slots.get(slot_id) for slot_id in slot_ids]
        if not slots or any(s is None for s in slots):
            return _outcome(400, "unknown slot")
        if state.steal:
            state.steal -= 1
            for slot in slots:
                assert slot is not None
                slot["status"] = "busy"
            return _outcome(state.conflict_status, "slot taken by another booking")
        if any(s is not None and s["status"] != "free" for s in slots):
            return _outcome(409, "slot is not free")
        for slot in slots:
            assert slot is not None
            slot["status"] = "busy"
        appointment_id = f"appt-{next(state.ids)}"
        resource = {**body, "id": appointment_id, "meta": {"versionId": "1"}}
        state.appointments[appointment_id] = resource
        return _fhir(
            resource,
            201,
            {"Location": f"{server.base_url}/Appointment/{appointment_id}/_history/1"},
        )

    @app.patch("/fhir/Appointment/{appointment_id}")
    async def patch_appointment(appointment_id: str, request: Request) -> Response:
        if (failed := await guard(request)) is not None:
            return failed
        state = server.state
        if request.headers.get("content-type", "").split(";")[0] != "application/json-patch+json":
            return _outcome(415, "send a JSON Patch")
        resource = state.appointments.get(appointment_id)
        if resource is None:
            return _outcome(404, "no such appointment")
        for operation in _body(await request.body()):
            if operation.get("op") != "replace" or operation.get("path") != "/status":
                return _outcome(422, "only the status can be replaced")
            resource["status"] = operation["value"]
        if resource["status"] == "cancelled":
            for reference in resource.get("slot", []):
                slot = state.slots.get(str(reference["reference"]).removeprefix("Slot/"))
                if slot is not None:
                    slot["status"] = "free"
        return _fhir(resource)

    return app


class FhirServer:
    """Serves ``build_app`` with uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self) -> None:
        self.state = FhirState()
        self.base_url = ""
        self._server: LoopbackServer | None = None

    def reset(self) -> FhirState:
        self.state = FhirState()
        return self.state

    def start(self) -> str:
        self._server = LoopbackServer(build_app(self), "FHIR test server", lifespan="off")
        self.base_url = f"{self._server.url}/fhir"
        self._server.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

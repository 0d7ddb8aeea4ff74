"""Vendors the benchmarks cannot reach, as small local servers speaking their protocols.

Only what a benchmark needs: a slow FHIR appointment book (Schedule read, free Slot search,
Appointment create and search), a Twilio-compatible Messages endpoint that records when
each text arrived, and an OTLP/HTTP trace sink that counts spans. The test suite has its
own, fuller stand-ins with failure modes; these never fail on purpose.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Running:
    """A Starlette app served on a free 127.0.0.1 port from a daemon thread."""

    def __init__(self, app: Starlette) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        ).start()
        while not self._server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True


@dataclass
class SlowFhirBook:
    """One practitioner's schedule; every request waits ``delay_s`` (a slow clinic system)."""

    practitioner: str
    display: str
    slots: list[datetime]
    length: timedelta = timedelta(minutes=20)
    delay_s: float = 0.0
    taken: set[int] = field(default_factory=set)
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> Running:
        return Running(
            Starlette(
                routes=[
                    Route("/fhir/Schedule/{schedule_id}", self._schedule),
                    Route("/fhir/Slot", self._slots),
                    Route("/fhir/Appointment", self._appointments, methods=["GET", "POST"]),
                ]
            )
        )

    async def _schedule(self, request: Request) -> Response:
        await asyncio.sleep(self.delay_s)
        actor = {"reference": f"Practitioner/{self.practitioner}", "display": self.display}
        return JSONResponse({"resourceType": "Schedule", "actor": [actor]})

    async def _slots(self, request: Request) -> Response:
        await asyncio.sleep(self.delay_s)
        with self._lock:
            free = [(i, start) for i, start in enumerate(self.slots) if i not in self.taken]
        entries = [
            {
                "resource": {
                    "resourceType": "Slot",
                    "id": str(i),
                    "status": "free",
                    "start": start.isoformat(),
                    "end": (start + self.length).isoformat(),
                },
                "search": {"mode": "match"},
            }
            for i, start in free[:50]
        ]
        return JSONResponse({"resourceType": "Bundle", "type": "searchset", "entry": entries})

    async def _appointments(self, request: Request) -> Response:
        await asyncio.sleep(self.delay_s)
        if request.method == "GET":
            wanted = request.query_params.get("identifier", "").split("|")[-1]
            with self._lock:
                found = [a for key, a in self.appointments.items() if key == wanted]
            entries = [{"resource": a, "search": {"mode": "match"}} for a in found]
            return JSONResponse({"resourceType": "Bundle", "type": "searchset", "entry": entries})
        body: dict[str, Any] = await request.json()
        key = str(body["identifier"][0]["value"])
        slot = int(str(body["slot"][0]["reference"]).split("/")[-1])
        with self._lock:
            if key in self.appointments:
                return JSONResponse(self.appointments[key], status_code=200)
            if slot in self.taken:
                return JSONResponse({"resourceType": "OperationOutcome"}, status_code=409)
            self.taken.add(slot)
            created = {**body, "id": uuid.uuid4().hex}
            self.appointments[key] = created
        return JSONResponse(created, status_code=201)


@dataclass
class TextInbox:
    """Twilio's Messages resource: every accepted text with the time it arrived."""

    arrivals: dict[str, float] = field(default_factory=dict)

    def serve(self) -> Running:
        route = Route("/2010-04-01/Accounts/{sid}/Messages.json", self._message, methods=["POST"])
        return Running(Starlette(routes=[route]))

    async def _message(self, request: Request) -> Response:
        form = await request.form()
        to = str(form.get("To"))
        self.arrivals.setdefault(to, time.monotonic())
        sid = f"SM{uuid.uuid4().hex}"
        return JSONResponse({"sid": sid, "to": to, "status": "queued"}, status_code=201)


@dataclass
class SpanSink:
    """OTLP/HTTP (protobuf) traces: counts the spans it was sent."""

    spans: int = 0

    def serve(self) -> Running:
        return Running(Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])]))

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        self.spans += sum(
            len(scope.spans) for resource in export.resource_spans for scope in resource.scope_spans
        )
        return Response(b"", media_type="application/x-protobuf")

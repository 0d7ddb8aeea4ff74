"""A local OTLP/HTTP trace collector on loopback: receives ``POST /v1/traces``
(protobuf, as the OpenTelemetry exporter sends it), decodes it with ``opentelemetry-proto``
and keeps every span for tests and benchmarks to read."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    scope: str
    attributes: dict[str, Any]
    event_attributes: list[dict[str, Any]]
    links: list[tuple[str, str]]
    status_message: str
    start_ns: int

    def values(self) -> list[str]:
        """Every string the span carries, attributes and event attributes alike."""
        found = [self.name, self.status_message]
        for attributes in (self.attributes, *self.event_attributes):
            for value in attributes.values():
                found.extend(str(v) for v in (value if isinstance(value, list) else [value]))
        return found


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


class OtlpCollector:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.resources: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.receive(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                self.resources.append(
                    {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                name=span.name,
                                kind=span.kind,
                                scope=scope_spans.scope.name,
                                attributes={kv.key: _value(kv.value) for kv in span.attributes},
                                event_attributes=[
                                    {kv.key: _value(kv.value) for kv in event.attributes}
                                    for event in span.events
                                ],
                                links=[(ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links],
                                status_message=span.status.message,
                                start_ns=span.start_time_unix_nano,
                            )
                        )

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        return list(self.spans)

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Traces of turns and requests, sent by OTLP/HTTP when an endpoint is set; off otherwise.

Contract:

- Off (no endpoint): nothing is instrumented, no provider exists, and every traced step
  of a turn costs one attribute check.
- On: one tracer provider per deployment (no global state), batching spans to
  ``<endpoint>/v1/traces``. The app's requests (FastAPI), its outgoing calls (httpx: the
  language model, FHIR, webhooks) and its SQL (SQLAlchemy) are traced; outgoing calls and
  SQL only inside a request or a turn, so background polling makes no traces of its own.
- One trace per conversation: the trace id is a keyed digest of the conversation id, so
  every turn of a call lands in the same trace whichever request or process served it.
  Each turn is a root span of that trace (``invoke_agent aftercare``), linked to the
  request span that carried it, with a child span per step: triage, retrieval (or
  danger_check), policy, compose (``chat <model>`` on the generated path, with token
  usage), escalation. Names and attributes follow the OpenTelemetry GenAI conventions
  where they apply.
- Health data never leaves in a span: turn spans carry step names, decisions, counts,
  scores, model names and token counts; the conversation appears only as a keyed
  pseudonym. Whatever instrumentation made a span, the exporter replaces request paths by
  their route template and drops query strings, client addresses, user agents and
  exception messages.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    import httpx
    import httpx2
    from fastapi import FastAPI
    from sqlalchemy import Engine

    from app.settings import Settings

log = logging.getLogger("aftercare.tracing")
T = TypeVar("T")

AGENT = "aftercare"
# Requests that would only add noise: probes and scrapes.
_UNTRACED_URLS = "healthz,readyz,metrics"
_PATH_KEYS = frozenset({"http.target", "url.path"})
_URL_KEYS = frozenset({"http.url", "url.full"})
_DROPPED_KEYS = frozenset(
    {
        "url.query",
        "http.client_ip",
        "client.address",
        "client.port",
        "user_agent.original",
        "http.user_agent",
        "enduser.id",
    }
)
# On a server span the peer is the patient's device.
_SERVER_PEER_KEYS = frozenset(
    {
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "network.peer.address",
        "network.peer.port",
    }
)
_EXCEPTION_KEPT = frozenset({"exception.type", "exception.escaped"})

# The trace id the next root span takes (a turn of a known conversation).
_NEXT_TRACE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "aftercare_next_trace_id", default=None
)


class _ConversationIds(RandomIdGenerator):
    """Random ids, except a turn's root span takes its conversation's trace id."""

    def generate_trace_id(self) -> int:
        wanted = _NEXT_TRACE_ID.get()
        return wanted if wanted else super().generate_trace_id()


class RedactingExporter(SpanExporter):
    """Passes spans on with request paths, query strings, client addresses, user agents
    and exception messages removed (they can carry patient words or identifiers)."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def redacted(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` with nothing that may identify a patient or quote him."""
    attributes = dict(span.attributes or {})
    route = attributes.get("http.route")
    server = span.kind == SpanKind.SERVER
    clean: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if key in _DROPPED_KEYS or (server and key in _SERVER_PEER_KEYS):
            continue
        if key in _PATH_KEYS:
            if route is None:
                continue
            value = route
        elif key in _URL_KEYS and isinstance(value, str):
            value = _bare_url(value, route if isinstance(route, str) else None)
        clean[key] = value
    events = [
        Event(
            event.name,
            {k: v for k, v in (event.attributes or {}).items() if k in _EXCEPTION_KEPT},
            event.timestamp,
        )
        if event.name == "exception"
        else event
        for event in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=clean,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _bare_url(url: str, route: str | None) -> str:
    """Scheme, host and path only (the route template instead of the path when known)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, route or parts.path, "", ""))


class _ChildTracer(trace.Tracer):
    """Starts spans only inside another one: SQL and outgoing calls belong to a request
    or a turn, and background polling makes no traces of its own."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._inner.start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[Span]:
        if not trace.get_current_span(context).get_span_context().is_valid:
            yield trace.INVALID_SPAN
            return
        with self._inner.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


class _ChildrenOnly(trace.TracerProvider):
    def __init__(self, inner: TracerProvider) -> None:
        self._inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ChildTracer(self._inner.get_tracer(*args, **kwargs))


class TurnTrace:
    """The spans of one turn. Step spans are children of the turn's root span.

    ``step`` makes its span current while its block runs: use it only around code that
    does not yield (a generator's yield would carry the span to the consumer). Streaming
    steps use ``start`` and ``within``.
    """

    def __init__(self, tracer: trace.Tracer | None, root: Span | None) -> None:
        self._tracer = tracer
        self._root = root
        self._parent = trace.set_span_in_context(root) if root is not None else None

    @property
    def recording(self) -> bool:
        return self._root is not None

    def step(self, name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
        if self._tracer is None:
            return nullcontext(trace.INVALID_SPAN)
        return self._tracer.start_as_current_span(name, context=self._parent, attributes=attributes)

    def start(self, name: str, **attributes: AttributeValue) -> Span:
        if self._tracer is None:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context=self._parent, attributes=attributes)

    async def within(self, span: Span, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """``items`` with ``span`` current only while each item is made (and on close)."""
        if self._tracer is None:
            async for item in items:
                yield item
            return
        current = trace.set_span_in_context(span)
        try:
            while True:
                token = otel_context.attach(current)
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                finally:
                    otel_context.detach(token)
                yield item
        finally:
            closer = getattr(items, "aclose", None)
            if closer is not None:
                token = otel_context.attach(current)
                try:
                    await closer()
                finally:
                    otel_context.detach(token)

    def finish(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self._root is not None:
            self._root.set_attributes(attributes)

    def fail(self, error: BaseException) -> None:
        if self._root is None:
            return
        if isinstance(error, GeneratorExit | KeyboardInterrupt):
            return
        if isinstance(error, asyncio.CancelledError):  # interrupted by the patient
            self._root.set_attribute("aftercare.turn.cancelled", True)
            return
        # Only the type: an exception's message may quote the patient.
        self._root.set_attribute("error.type", type(error).__name__)
        self._root.set_status(Status(StatusCode.ERROR))

    def end(self) -> None:
        if self._root is not None:
            self._root.end()


NO_TRACE = TurnTrace(None, None)


class Tracing:
    """The deployment's tracer provider (or none) and what it instruments."""

    def __init__(self, provider: TracerProvider | None, conversation_key: bytes) -> None:
        self._provider = provider
        self._key = conversation_key
        self._tracer = provider.get_tracer("aftercare.turn") if provider is not None else None
        self._children = _ChildrenOnly(provider) if provider is not None else None

    @classmethod
    def off(cls) -> Tracing:
        return cls(None, b"")

    @classmethod
    def from_settings(cls, settings: Settings, exporter: SpanExporter | None = None) -> Tracing:
        """Off unless an endpoint is set (or an exporter is given)."""
        section = settings.telemetry
        endpoint = settings.otlp_endpoint
        if exporter is None and endpoint is None:
            return cls.off()
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            assert endpoint is not None
            exporter = OTLPSpanExporter(
                endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=section.export_timeout_s
            )
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": section.service_name, "service.version": _version()}
            ),
            sampler=ParentBased(TraceIdRatioBased(section.sample_ratio)),
            id_generator=_ConversationIds(),
        )
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
        key = section.conversation_key
        return cls(provider, key.get_secret_value().encode() if key else secrets.token_bytes(32))

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def turn(self, conversation_id: str | None, turn_id: str, channel: str) -> TurnTrace:
        """The root span of one turn, in its conversation's trace."""
        if self._tracer is None:
            return NO_TRACE
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": AGENT,
            "aftercare.turn.id": turn_id,
            "aftercare.channel": channel,
        }
        trace_id = None
        if conversation_id is not None:
            digest = hmac.new(self._key, conversation_id.encode(), hashlib.sha256).digest()
            trace_id = int.from_bytes(digest[:16], "big")
            attributes["gen_ai.conversation.id"] = "c-" + digest[16:28].hex()
        request = trace.get_current_span().get_span_context()
        links = [Link(request)] if request.is_valid else None
        token = _NEXT_TRACE_ID.set(trace_id)
        try:
            root = self._tracer.start_span(
                f"invoke_agent {AGENT}",
                context=otel_context.Context(),  # a root: its own trace, not the request's
                attributes=attributes,
                links=links,
            )
        finally:
            _NEXT_TRACE_ID.reset(token)
        return TurnTrace(self._tracer, root)

    def instrument_client(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        if self._children is not None:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self._children)
        return client

    def llm_client(self) -> httpx2.AsyncClient | None:
        """An instrumented HTTP client for the language model (the openai client's own
        kind); None when tracing is off."""
        if self._children is None:
            return None
        from openai import DefaultAsyncHttpxClient
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

        client = DefaultAsyncHttpxClient()
        HTTPX2ClientInstrumentor.instrument_client(
            client,  # type: ignore[arg-type]  # annotated for httpx, made for both
            tracer_provider=self._children,
        )
        return client

    def instrument_engine(self, engine: Engine) -> None:
        if self._children is None:
            return
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeter

        usage = NoOpMeter("aftercare").create_up_down_counter("db.client.connections.usage")
        EngineTracer(
            self._children.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage
        )  # type: ignore[no-untyped-call]

    def instrument_app(self, app: FastAPI) -> None:
        if self._provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self._provider,
            excluded_urls=_UNTRACED_URLS,
            exclude_spans=["receive", "send"],
        )

    def flush(self, timeout_s: float = 10.0) -> bool:
        if self._provider is None:
            return True
        return self._provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def note_generation(
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    response_model: str | None,
    finish_reason: str | None,
) -> None:
    """Token usage of a generated answer, on the current (compose) span if traced."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if input_tokens is not None:
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    if output_tokens is not None:
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if response_model:
        span.set_attribute("gen_ai.response.model", response_model)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aftercare")
    except PackageNotFoundError:
        return "0.1.0"

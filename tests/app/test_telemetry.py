"""Traces and metrics of the live app: spans of real turns reach a local OTLP/HTTP
collector on loopback (decoded with opentelemetry-proto), /metrics shows route, process
and service-level figures, and no span carries the patient's words or identifiers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import create_engine

from app.main import build_services, create_app
from app.operations.service_levels import ServiceLevels
from app.operations.tracing import RedactingExporter, Tracing
from app.services import Services
from app.settings import Settings
from escalation.database import make_sessionmaker
from escalation.service import SCHEDULER_FAILED_REASON
from ingestion.embedding import Embedder
from tests.app.conftest import PLATFORM_KEY, make_settings, serve
from tests.app.llm_server import Script, ScriptedChatServer, prompt_tokens, running
from tests.app.otlp_collector import OtlpCollector, ReceivedSpan

GROUNDED = (
    "You should not drive until your surgeon says it is safe. "
    "Most men wait until the catheter is out and they no longer need strong painkillers. "
    "Check with your car insurance company before you drive again."
)
CONVERSATION = "call-7731-telemetry"
PATIENT_ID = "pt-telemetry-4411"
FIRST = "When can I drive again after the operation?"
SECOND = "Can I speak to a nurse please?"
PATIENT_QUESTION = "How long will the catheter stay in after my operation?"
STEPS = ("triage", "retrieval", "policy", "chat test-model", "escalation")


@dataclass
class Traced:
    base_url: str
    services: Services
    collector: OtlpCollector
    llm: ScriptedChatServer
    coordinator_key: str
    patient_key: str


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Traced]:
    collector = OtlpCollector()
    for llm in running(ScriptedChatServer(default=Script(GROUNDED))):
        settings = make_settings(
            tmp_path_factory.mktemp("traced"),
            telemetry={"otlp_endpoint": collector.endpoint, "conversation_key": "k" * 32},
            llm_base_url=llm.base_url,
            llm_model="test-model",
        )
        services = build_services(settings)
        services.embedder = embedder
        _, coordinator_key = services.people.add_staff("Coordinator", "coordinator")
        _, patient_key = services.people.add_patient(PATIENT_ID, "Arthur Telemetry")
        server = serve(settings, services)
        base = server.url
        yield Traced(base, services, collector, llm, coordinator_key, patient_key)
        server.stop(timeout=30)
    collector.close()


@pytest.fixture(scope="module")
def spans(traced: Traced) -> list[ReceivedSpan]:
    """Two turns of one call over the chat endpoint, then a named patient's /v1/ask."""
    chat = openai.OpenAI(
        base_url=f"{traced.base_url}/v1",
        api_key=PLATFORM_KEY,
        max_retries=0,
        default_headers={"X-Conversation-Id": CONVERSATION},
    )
    history: list[dict[str, str]] = []
    for question in (FIRST, SECOND):
        history.append({"role": "user", "content": question})
        reply = chat.chat.completions.create(model="aftercare", messages=history)  # type: ignore[arg-type]
        history.append({"role": "assistant", "content": reply.choices[0].message.content or ""})
    asked = httpx.post(
        f"{traced.base_url}/v1/ask",
        json={"question": PATIENT_QUESTION, "patient_id": PATIENT_ID},
        headers={"Authorization": f"Bearer {traced.patient_key}"},
        timeout=60,
    )
    assert asked.status_code == 200, asked.text
    looked_up = httpx.get(
        f"{traced.base_url}/v1/patients/{PATIENT_ID}?note={PATIENT_ID}",
        headers={"Authorization": f"Bearer {traced.coordinator_key}"},
        timeout=30,
    )
    assert looked_up.status_code == 200, looked_up.text
    assert traced.services.tracing.flush()
    return traced.collector.spans


def roots(spans: list[ReceivedSpan], channel: str) -> list[ReceivedSpan]:
    return [
        s
        for s in spans
        if s.name == "invoke_agent aftercare" and s.attributes["aftercare.channel"] == channel
    ]


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    found = [s for s in spans if s.parent_span_id == parent.span_id]
    return sorted(found, key=lambda s: s.start_ns)


def test_one_trace_per_conversation_across_two_turns(spans: list[ReceivedSpan]) -> None:
    turns = roots(spans, "platform")
    assert len(turns) == 2
    assert turns[0].trace_id == turns[1].trace_id
    assert all(t.parent_span_id == "" for t in turns)  # each turn is a root of the trace
    conversation = {t.attributes["gen_ai.conversation.id"] for t in turns}
    assert len(conversation) == 1 and CONVERSATION not in conversation.pop()
    assert {t.attributes["aftercare.turn.outcome"] for t in turns} == {"answered", "escalated"}
    # Each turn is linked to the request that carried it, in that request's own trace.
    servers = {s.span_id: s for s in spans if s.kind == 2}  # SPAN_KIND_SERVER
    for turn in turns:
        (link,) = turn.links
        request = servers[link[1]]
        assert request.trace_id == link[0] != turn.trace_id
        assert request.attributes["http.route"] == "/v1/chat/completions"
    # A named patient's one-shot question has no conversation: a trace of its own.
    (alone,) = roots(spans, "api")
    assert alone.trace_id != turns[0].trace_id
    assert "gen_ai.conversation.id" not in alone.attributes


def test_every_step_has_its_span(spans: list[ReceivedSpan]) -> None:
    answered, escalated = sorted(
        roots(spans, "platform"), key=lambda t: t.attributes["aftercare.turn.outcome"]
    )
    assert [s.name for s in children(spans, answered)] == [
        "triage",
        "retrieval",
        "policy",
        "chat test-model",
    ]
    # A request for a person searches nothing: only the danger-sign check embeds his words.
    assert [s.name for s in children(spans, escalated)] == ["triage", "danger_check", "escalation"]
    steps = {s.name for t in (answered, escalated) for s in children(spans, t)}
    assert set(STEPS) <= steps
    (policy,) = [s for s in children(spans, answered) if s.name == "policy"]
    assert policy.attributes["aftercare.policy.decision"] == "answer"
    (escalation,) = [s for s in children(spans, escalated) if s.name == "escalation"]
    assert escalation.attributes["aftercare.escalation.reason"] == "patient_request"
    # The escalation's SQL is traced beneath it.
    sql = [s for s in children(spans, escalation) if "sqlalchemy" in s.scope]
    assert sql and all(s.trace_id == escalated.trace_id for s in sql)


def test_generated_answer_follows_the_genai_conventions(
    traced: Traced, spans: list[ReceivedSpan]
) -> None:
    answered = next(
        t for t in roots(spans, "platform") if t.attributes["aftercare.turn.outcome"] == "answered"
    )
    (chat,) = [s for s in children(spans, answered) if s.name == "chat test-model"]
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "test-model"
    assert chat.attributes["gen_ai.response.model"] == "test-model"
    # Token usage as the model server counted it (the stream's last chunk).
    request = next(r for r in traced.llm.requests if FIRST in r.user_message)
    assert request.body["stream_options"] == {"include_usage": True}
    assert chat.attributes["gen_ai.usage.input_tokens"] == prompt_tokens(request.body)
    assert chat.attributes["gen_ai.usage.output_tokens"] == len(re.findall(r"\s*\S+", GROUNDED))
    # The call to the model server is an httpx client span beneath it.
    (call,) = [s for s in children(spans, chat) if "httpx" in s.scope]
    assert call.kind == 3  # SPAN_KIND_CLIENT
    (retrieval,) = [s for s in children(spans, answered) if s.name == "retrieval"]
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"


def test_no_question_text_or_patient_identifier_in_any_span(spans: list[ReceivedSpan]) -> None:
    assert len(spans) > 20
    forbidden = [
        FIRST,
        SECOND,
        PATIENT_QUESTION,
        "drive again",
        "speak to a nurse",
        "catheter stay in",
        PATIENT_ID,
        "Arthur",
        CONVERSATION,
    ]
    for span in spans:
        for value in span.values():
            for text in forbidden:
                assert text.lower() not in value.lower(), (span.name, text)
    # Paths became their route templates; query strings and client addresses are gone.
    (lookup,) = [s for s in spans if s.attributes.get("http.route") == "/v1/patients/{patient_id}"]
    assert "client.address" not in lookup.attributes
    assert "http.client_ip" not in lookup.attributes
    assert "url.query" not in lookup.attributes


def test_metrics_show_routes_process_and_service_levels(
    traced: Traced, spans: list[ReceivedSpan]
) -> None:
    def scrape() -> str:
        got = httpx.get(
            f"{traced.base_url}/metrics",
            headers={"Authorization": f"Bearer {traced.coordinator_key}"},
            timeout=30,
        )
        assert got.status_code == 200
        return got.text

    def value(text: str, prefix: str) -> float:
        line = next(ln for ln in text.splitlines() if ln.startswith(prefix + " "))
        return float(line.split()[-1])

    text = scrape()
    assert (
        'http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 2.0' in text
    )
    assert 'http_request_duration_seconds_bucket{handler="/v1/ask"' in text
    assert 'handler="/v1/patients/{patient_id}"' in text
    assert PATIENT_ID not in text
    assert value(text, "process_resident_memory_bytes") > 10_000_000
    assert "aftercare_turn_step_seconds_bucket" in text
    assert value(text, "aftercare_service_levels_up") == 1
    stored = asyncio.run(traced.services.escalations.list())
    for priority in ("routine", "urgent", "emergency"):
        waiting = [e for e in stored if e.priority == priority and e.status == "open"]
        assert value(text, f'aftercare_escalations_open{{priority="{priority}"}}') == len(waiting)
    # The anonymous caller's request for a nurse is open, waiting for a call back.
    (callback,) = [e for e in stored if e.conversation_id == f"call:{CONVERSATION}"]
    assert callback.status == "open" and callback.needs_attention
    assert value(text, 'aftercare_escalations_needing_attention{priority="routine"}') >= 1
    assert value(text, 'aftercare_alerts{status="failed"}') == 0
    assert 'aftercare_alerts{status="pending"}' in text

    failed = 'aftercare_booking_failures{reason="appointment_system_unavailable"}'
    before = value(text, failed)
    asyncio.run(traced.services.escalations.mark_attention(callback.id, SCHEDULER_FAILED_REASON))
    assert value(scrape(), failed) == before + 1


def test_tracing_is_off_without_an_endpoint(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.otlp_endpoint is None
    services = build_services(settings)
    assert not services.tracing.enabled
    app = create_app(settings, services)
    assert not any("OpenTelemetry" in type(m.cls).__name__ for m in app.user_middleware)
    trace = services.tracing.turn("call-1", "turn-1", "api")
    assert not trace.recording
    with trace.step("triage") as span:
        assert not span.is_recording()


def test_the_standard_variable_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.otlp_endpoint == "http://127.0.0.1:4318"
    tracing = Tracing.from_settings(settings)
    try:
        assert tracing.enabled
    finally:
        tracing.shutdown()


def test_the_exporter_strips_paths_queries_addresses_and_messages() -> None:
    received = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(received)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "GET /v1/patients/{patient_id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.route": "/v1/patients/{patient_id}",
            "url.path": "/v1/patients/pt-1",
            "http.target": "/v1/patients/pt-1?q=my+leak",
            "http.url": "http://clinic.example/v1/patients/pt-1?q=my+leak",
            "url.query": "q=my+leak",
            "client.address": "203.0.113.9",
            "network.peer.address": "203.0.113.9",
            "user_agent.original": "Phone of pt-1",
            "http.request.method": "GET",
        },
    ) as span:
        span.record_exception(ValueError("pt-1 said my leak is worse"))
    with tracer.start_as_current_span(
        "POST", kind=SpanKind.CLIENT, attributes={"url.full": "https://u:p@llm.example/v1?k=s"}
    ):
        pass
    server, client = received.get_finished_spans()
    assert dict(server.attributes or {}) == {
        "http.route": "/v1/patients/{patient_id}",
        "url.path": "/v1/patients/{patient_id}",
        "http.target": "/v1/patients/{patient_id}",
        "http.url": "http://clinic.example/v1/patients/{patient_id}",
        "http.request.method": "GET",
    }
    (event,) = server.events
    assert dict(event.attributes or {}) == {
        "exception.type": "ValueError",
        "exception.escaped": "False",
    }
    assert dict(client.attributes or {}) == {"url.full": "https://llm.example/v1"}


def test_service_levels_on_an_unreadable_database_report_down() -> None:
    engine = create_engine("sqlite:///:memory:")  # no tables
    registry = CollectorRegistry()
    registry.register(ServiceLevels(make_sessionmaker(engine), ("x",), lambda: None))  # type: ignore[arg-type,return-value]
    text = generate_latest(registry).decode()
    assert "aftercare_service_levels_up 0.0" in text
    assert "aftercare_escalations_open" not in text

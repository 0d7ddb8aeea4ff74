"""A Chroma server as the corpus index: answers from it, and when it goes down, turns that
escalate with the reason in the coordinators' queue, danger signs still caught, /readyz 503,
and recovery once it is back. The app runs on loopback against ``chroma run``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from app.conversation.replies import GUIDES_UNREACHABLE, INDEX_DOWN_ATTENTION
from app.main import build_services
from ingestion.embedding import Embedder

from .conftest import make_settings, serve
from .engines import chroma_server


def _ask(base: str, question: str) -> dict[str, object]:
    response = httpx.post(base + "/v1/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _ready(base: str) -> httpx.Response:
    return httpx.get(base + "/readyz", timeout=30)


def test_a_chroma_server_answers_and_its_outage_escalates(
    tmp_path: Path, embedder: Embedder
) -> None:
    with chroma_server(tmp_path, own=True) as chroma:
        settings = make_settings(tmp_path, ingestion=chroma.ingestion_settings())
        services = build_services(settings)
        services.embedder = embedder
        _, coordinator_key = services.people.add_staff("Coordinator", "coordinator")
        server = serve(settings, services)
        base = server.url
        try:
            assert services.collections is not None
            assert type(services.collections.client).__name__ != "PersistentClient"
            answered = _ask(base, "How long does the catheter stay in?")
            assert answered["outcome"] == "answered", answered
            assert [s["doc_id"] for s in answered["sources"]] == ["catheter"]  # type: ignore[attr-defined]

            chroma.stop()
            down = _ready(base)
            assert down.status_code == 503
            assert down.json()["status"] == "index_unavailable"

            escalated = _ask(base, "How long does the catheter stay in?")
            assert escalated["outcome"] == "escalated", escalated
            assert str(escalated["answer"]).startswith(GUIDES_UNREACHABLE)
            assert escalated["sources"] == []
            escalation_id = escalated["escalation"]["id"]  # type: ignore[index]
            queue = httpx.get(
                f"{base}/v1/escalations/{escalation_id}",
                headers={"Authorization": f"Bearer {coordinator_key}"},
                timeout=30,
            ).json()
            assert queue["needs_attention"] is True
            assert INDEX_DOWN_ATTENTION in queue["attention_reason"]

            # The fixed danger-sign rules never needed the index.
            danger = _ask(base, "I've got crushing chest pain and can't breathe")
            assert danger["outcome"] == "red_flag"

            chroma.restart()
            deadline = time.monotonic() + 60
            while _ready(base).status_code != 200:
                assert time.monotonic() < deadline, "the app did not recover with the server"
                time.sleep(0.5)
            again = _ask(base, "How long does the catheter stay in?")
            assert again["outcome"] == "answered", again
        finally:
            server.stop(timeout=30)

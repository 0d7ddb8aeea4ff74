"""The real app over loopback for platform tests, with a patient known by phone number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import build_services
from app.people.desk import utc_now
from tests.app.conftest import PLATFORM_KEY, LiveApp, make_settings, serve

VENDORS = Path(__file__).parent / "vendors"
PATIENT_PHONE = "+447911123456"
PATIENT_DOB = date(1952, 3, 4)


def vendor(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VENDORS / f"{name}.json").read_text())
    return data


@dataclass
class PlatformApp:
    live: LiveApp
    patient_id: str

    @property
    def base_url(self) -> str:
        return self.live.base_url

    def post(
        self, body: dict[str, Any], headers: dict[str, str] | None = None, root: bool = False
    ) -> httpx.Response:
        path = "/chat/completions" if root else "/v1/chat/completions"
        sent = headers if headers is not None else {"Authorization": f"Bearer {PLATFORM_KEY}"}
        return httpx.post(self.base_url + path, json=body, headers=sent, timeout=60)

    def escalations(self) -> list[dict[str, Any]]:
        response = httpx.get(
            self.base_url + "/v1/escalations",
            headers={"Authorization": f"Bearer {self.live.coordinator_key}"},
            timeout=30,
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()
        return items

    def ids(self) -> set[str]:
        return {e["id"] for e in self.escalations()}

    def new_since(self, before: set[str]) -> list[dict[str, Any]]:
        return [e for e in self.escalations() if e["id"] not in before]


def sse(response: httpx.Response) -> tuple[str, list[dict[str, Any]], str | None]:
    """The streamed text, tool calls and finish reason of an SSE chat completion."""
    assert response.status_code == 200, response.text
    text, calls, finish = "", [], None
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        chunk = json.loads(line[len("data: ") :])
        choice = chunk["choices"][0]
        text += choice["delta"].get("content") or ""
        calls.extend(choice["delta"].get("tool_calls") or [])
        finish = choice["finish_reason"] or finish
    return text, calls, finish


@pytest.fixture(scope="module")
def platform_app(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> Iterator[PlatformApp]:
    root = tmp_path_factory.mktemp("platforms")
    settings = make_settings(root, platform_settle_s=0.3)
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    _, coordinator_key = services.people.add_staff("Coordinator", "coordinator")
    _, clinician_key = services.people.add_staff("Clinician", "clinician")
    today = utc_now().date()
    services.people.add_patient(
        "pt-harold",
        "Harold Finch",
        surgery_date=today - timedelta(days=6),
        approach="robotic",
        catheter_out_on=today + timedelta(days=4),
        phone=PATIENT_PHONE,
        date_of_birth=PATIENT_DOB,
        preferred_contact="sms",
    )
    server = serve(settings, services)
    base = server.url
    live = LiveApp(base, services, coordinator_key, clinician_key, PLATFORM_KEY, settings)
    yield PlatformApp(live, "pt-harold")
    server.stop(timeout=30)

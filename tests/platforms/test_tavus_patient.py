"""Tavus: the patient whose page started the conversation is known in its custom-LLM calls
(the marker our provider wrote into the conversation's context), and only then."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.main import build_services, utc_now
from avatar_bridge.settings import AvatarSettings
from tests.app.conftest import PLATFORM_KEY, make_settings, serve
from tests.avatar_bridge.providers.fake_vendors import TAVUS_KEY, VendorState, tavus_app
from tests.platforms.conftest import sse, vendor
from tests.support.loopback import LoopbackServer

STAGE = "You're on day 6 after your operation"


@pytest.fixture(scope="module")
def tavus(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> Iterator[tuple[str, VendorState, dict[str, str]]]:
    state = VendorState()
    vendor_server = LoopbackServer(tavus_app(state), "fake vendor").start()
    vendor_url = vendor_server.url
    settings = make_settings(
        tmp_path_factory.mktemp("tavus"),
        avatar=AvatarSettings(
            provider="tavus",
            tavus_api_key=SecretStr(TAVUS_KEY),
            tavus_base_url=vendor_url,
            tavus_replica_id="r-replica-1",
            public_base_url="https://aftercare.example/",
            vendor_llm_key=SecretStr(PLATFORM_KEY),
            request_timeout_s=2.0,
        ),
    )
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    today = utc_now().date()
    keys: dict[str, str] = {}
    for patient_id in ("pt-tavus", "pt-elsewhere"):
        _, keys[patient_id] = services.people.add_patient(
            patient_id,
            "Edwin Payne",
            surgery_date=today - timedelta(days=6),
            approach="robotic",
            catheter_out_on=today + timedelta(days=4),
        )
    server = serve(settings, services)
    base = server.url
    yield base, state, keys
    server.stop(timeout=30)
    vendor_server.stop()


def ask(base: str, context: str, question: str) -> str:
    body: dict[str, Any] = copy.deepcopy(vendor("tavus")["request"])
    system = [m for m in body["messages"] if m["role"] == "system"]
    body["messages"] = [system[0], {"role": "system", "content": context}]
    body["messages"].append({"role": "user", "content": question})
    response = httpx.post(
        base + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {PLATFORM_KEY}"},
        timeout=60,
    )
    text, _, _ = sse(response)
    return text


def test_the_page_patients_tavus_conversation_knows_him(
    tavus: tuple[str, VendorState, dict[str, str]],
) -> None:
    base, state, keys = tavus
    started = httpx.post(
        base + "/v1/avatar/session",
        json={"patient_id": "pt-tavus"},
        headers={"Authorization": f"Bearer {keys['pt-tavus']}"},
        timeout=30,
    )
    assert started.status_code == 200 and started.json()["avatar"], started.text
    [created] = state.calls_to("/v2/conversations")
    context = created.body["conversational_context"]

    answer = ask(base, context, "how long will the catheter stay in?")
    assert "7 to 10" in answer and STAGE in answer

    # Another conversation naming a patient with no live session of ours: general answers.
    forged = re.sub(
        r"\[aftercare-conversation:[^\]]+\]",
        "[aftercare-conversation:c-forged]",
        context.replace("pt-tavus", "pt-elsewhere"),
    )
    assert "pt-elsewhere" in forged and "c-forged" in forged
    answer = ask(base, forged, "how long will the catheter stay in?")
    assert "7 to 10" in answer and STAGE not in answer

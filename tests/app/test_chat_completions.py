"""The OpenAI-compatible endpoint, called with the official openai client over loopback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.app.conftest import LiveApp

TRANSFER_TOOL = {
    "type": "function",
    "function": {
        "name": "transferCall",
        "description": "Transfer the call to a person",
        "parameters": {"type": "object", "properties": {"destination": {"type": "string"}}},
    },
}


def client(live: LiveApp, key: str | None = None, root: bool = False) -> openai.OpenAI:
    base = live.base_url if root else f"{live.base_url}/v1"
    return openai.OpenAI(base_url=base, api_key=key or live.platform_key, max_retries=0)


def test_streaming_answer_about_catheter_care(live_app: LiveApp) -> None:
    stream = client(live_app).chat.completions.create(
        model="aftercare",
        messages=[
            {"role": "system", "content": "You are a friendly avatar."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "how long will the catheter stay in?"},
        ],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "7 to 10" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(contents) >= 2  # sentence by sentence, not one blob


def test_root_path_and_vendor_extras_are_accepted(live_app: LiveApp) -> None:
    completion = client(live_app, root=True).chat.completions.create(
        model="aftercare",
        messages=[{"role": "user", "content": "can I have a bath with the catheter in?"}],
        extra_body={
            "call": {"id": "call-1"},
            "customer": {"number": "+15550000"},
            "metadata": {"campaign": "x"},
            "phoneNumber": {"id": "p"},
        },
    )
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"


def test_red_flag_emits_a_transfer_tool_call(live_app: LiveApp) -> None:
    stream = client(live_app).chat.completions.create(
        model="aftercare",
        messages=[{"role": "user", "content": "I have crushing chest pain right now"}],
        tools=[TRANSFER_TOOL],  # type: ignore[list-item]
        stream=True,
    )
    chunks = list(stream)
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert calls, "expected a transferCall tool call"
    call = calls[0][0]
    assert call.function and call.function.name == "transferCall"
    # Emergencies transfer to the on-call team, in E.164; the patient hears to dial 999.
    assert json.loads(call.function.arguments or "{}") == {"destination": "+441223000000"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert live_app.services.clinic.contacts.emergency_number in text


def test_non_streaming_escalation_with_tool(live_app: LiveApp) -> None:
    completion = client(live_app).chat.completions.create(
        model="aftercare",
        messages=[{"role": "user", "content": "what dose of metformin should I take?"}],
        tools=[TRANSFER_TOOL],  # type: ignore[list-item]
    )
    message = completion.choices[0].message
    assert message.content and message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"


def test_wrong_key_is_refused_in_openai_format(live_app: LiveApp) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        client(live_app, key="wrong").chat.completions.create(
            model="aftercare", messages=[{"role": "user", "content": "hello"}]
        )
    assert err.value.status_code == 401
    body = httpx.post(f"{live_app.base_url}/v1/chat/completions", json={}).json()
    assert body["error"]["code"] == "invalid_api_key"


def test_no_user_message_is_a_400(live_app: LiveApp) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(live_app).chat.completions.create(
            model="aftercare", messages=[{"role": "system", "content": "be nice"}]
        )
    assert err.value.status_code == 400
    response = httpx.post(
        f"{live_app.base_url}/v1/chat/completions",
        content=b"{broken",
        headers={
            "Authorization": f"Bearer {live_app.platform_key}",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 400 and "error" in response.json()

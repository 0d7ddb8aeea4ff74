"""Each platform's documented request bodies, replayed against the live app: a greeting,
identification, a red flag with a retry, the transfer tool round trip."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import phonenumbers

from tests.app.conftest import PLATFORM_KEY
from tests.platforms.conftest import PATIENT_PHONE, PlatformApp, sse, vendor

CALF = "I have a pain in my calf and it's swollen"
ON_CALL = "+441223000000"


def with_turns(request: dict[str, Any], *turns: tuple[str, str]) -> dict[str, Any]:
    body = copy.deepcopy(request)
    body["messages"].extend({"role": role, "content": text} for role, text in turns)
    return body


def assert_e164(number: str) -> None:
    parsed = phonenumbers.parse(number, None)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number


def tool_round_trip(
    request: dict[str, Any], calls: list[dict[str, Any]], said: str
) -> dict[str, Any]:
    body = with_turns(request, ("user", CALF))
    body["messages"].append(
        {
            "role": "assistant",
            "content": said,
            "tool_calls": [{k: v for k, v in c.items() if k != "index"} for c in calls],
        }
    )
    body["messages"].append(
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "Transfer initiated."}
    )
    return body


def test_vapi_call_identified_escalated_once_and_transferred(platform_app: PlatformApp) -> None:
    request = vendor("vapi")["request"]
    text, _, finish = sse(platform_app.post(request))
    assert "date of birth" in text and finish == "stop"

    text, _, _ = sse(platform_app.post(with_turns(request, ("user", "fourth of March fifty-two"))))
    assert "Harold" in text

    before = platform_app.ids()
    body = with_turns(
        request, ("user", "fourth of March fifty-two"), ("assistant", text), ("user", CALF)
    )
    first = platform_app.post(body)
    retries = [platform_app.post(body) for _ in range(4)]
    said, calls, finish = sse(first)
    assert finish == "tool_calls" and calls
    arguments = json.loads(calls[0]["function"]["arguments"])
    assert calls[0]["function"]["name"] == "transferCall"
    assert arguments == {"destination": ON_CALL}
    assert_e164(arguments["destination"])
    for retry in retries:
        assert sse(retry) == (said, calls, finish)  # the same reply, the same tool call id

    new = platform_app.new_since(before)
    assert len(new) == 1
    assert new[0]["patient_id"] == platform_app.patient_id
    assert new[0]["red_flag_rule"] == "calf_clot_signs"

    after_tool = tool_round_trip(request, calls, said)
    text, calls_again, finish = sse(platform_app.post(after_tool))
    assert calls_again == [] and finish == "stop"
    assert len(platform_app.new_since(before)) == 1


def test_elevenlabs_picks_transfer_to_number_never_transfer_to_agent(
    platform_app: PlatformApp,
) -> None:
    request = vendor("elevenlabs")["request"]
    text, _, _ = sse(platform_app.post(request))
    assert "date of birth" in text  # the caller id came in the prompt's marker
    before = platform_app.ids()
    body = with_turns(request, ("user", CALF))
    with ThreadPoolExecutor(max_workers=3) as pool:  # a retry racing the first request
        responses = list(pool.map(lambda _: platform_app.post(body), range(3)))
    said, calls, finish = sse(responses[0])
    assert all(sse(r) == (said, calls, finish) for r in responses[1:])
    assert [c["function"]["name"] for c in calls] == ["transfer_to_number"]
    arguments = json.loads(calls[0]["function"]["arguments"])
    assert set(arguments) == {"transfer_number", "client_message", "agent_message", "reason"}
    assert arguments["transfer_number"] == ON_CALL
    new = platform_app.new_since(before)
    # Not yet identified (no date of birth said): the escalation names no patient.
    assert len(new) == 1 and new[0]["patient_id"] is None
    text, calls_again, finish = sse(platform_app.post(tool_round_trip(request, calls, said)))
    assert calls_again == [] and finish == "stop"
    assert len(platform_app.new_since(before)) == 1

    bye, calls, finish = sse(
        platform_app.post(with_turns(request, ("user", "thanks, bye for now")))
    )
    assert "goodbye" in bye.lower() and finish == "tool_calls"
    assert [c["function"]["name"] for c in calls] == ["end_call"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"reason": "the caller said goodbye"}


def test_did_x_api_key_and_non_streaming_content_reply(platform_app: PlatformApp) -> None:
    request = vendor("did")["request"]
    body = with_turns(request, ("user", "how long will the catheter stay in?"))
    headers = {"x-api-key": PLATFORM_KEY}
    response = platform_app.post(body, headers=headers, root=True)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert "7 to 10" in reply["content"]
    assert reply["choices"][0]["message"]["content"] == reply["content"]
    again = platform_app.post(body, headers=headers, root=True).json()
    assert again["content"] == reply["content"] and again["id"] == reply["id"]

    streamed = dict(body, stream=True)
    text, _, finish = sse(platform_app.post(streamed, headers=headers, root=True))
    assert "7 to 10" in text and finish == "stop"

    wrong = platform_app.post(body, headers={"x-api-key": "wrong"}, root=True)
    assert wrong.status_code == 401


def test_tavus_speculative_partials_escalate_once(platform_app: PlatformApp) -> None:
    request = copy.deepcopy(vendor("tavus")["request"])
    before = platform_app.ids()
    partials = ["I have a", "I have a pain in my", CALF]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = []
        for utterance in partials:  # each partial sent before the previous one is answered
            futures.append(pool.submit(platform_app.post, with_turns(request, ("user", utterance))))
            time.sleep(0.05)
        responses = [f.result() for f in futures]
    for response in responses:
        sse(response)
    new = platform_app.new_since(before)
    assert [e["question"] for e in new] == [CALF]
    assert new[0]["priority"] == "urgent"


def test_liveavatar_streams_an_answer_and_greets_when_it_spoke_last(
    platform_app: PlatformApp,
) -> None:
    request = vendor("liveavatar")["request"]
    text, _, finish = sse(platform_app.post(request))
    assert finish == "stop" and "recovery" in text.lower()
    body = with_turns(request, ("user", "how long will the catheter stay in?"))
    text, calls, finish = sse(platform_app.post(body))
    assert "7 to 10" in text and calls == [] and finish == "stop"


def test_a_tool_result_for_an_unknown_call_is_not_a_new_turn(platform_app: PlatformApp) -> None:
    before = platform_app.ids()
    body = {
        "model": "aftercare",
        "stream": True,
        "messages": [
            {"role": "user", "content": "I have crushing chest pain right now"},
            {"role": "tool", "tool_call_id": "call_never_issued", "content": "ok"},
        ],
    }
    text, calls, finish = sse(platform_app.post(body))
    assert text == "" and calls == [] and finish == "stop"
    assert platform_app.new_since(before) == []


def test_caller_number_not_e164_and_unknown_number(platform_app: PlatformApp) -> None:
    request = copy.deepcopy(vendor("vapi")["request"])
    request["call"]["id"] = "national-form-call"
    request["customer"]["number"] = "07911 123456"  # national form, read as GB
    text, _, _ = sse(platform_app.post(request))
    assert "date of birth" in text

    request["call"]["id"] = "unknown-number-call"
    request["customer"]["number"] = "+14155550100"
    text, _, _ = sse(platform_app.post(request))
    assert "date of birth" not in text

    request["call"]["id"] = "garbage-number-call"
    request["customer"]["number"] = "not a number"
    text, _, _ = sse(platform_app.post(request))
    assert "date of birth" not in text


def test_wrong_birth_date_three_times_locks_the_number(platform_app: PlatformApp) -> None:
    request = copy.deepcopy(vendor("vapi")["request"])
    texts = []
    for attempt in range(3):
        request["call"]["id"] = f"wrong-dob-{attempt}"
        body = with_turns(request, ("user", "first of January 1960"))
        texts.append(sse(platform_app.post(body))[0])
    assert "doesn't match" in texts[0] and "doesn't match" in texts[1]
    assert "can't confirm who you are" in texts[2]
    # Locked: even the right date is refused for a while, and no personal data is given.
    request["call"]["id"] = "right-dob-after-lock"
    text, _, _ = sse(platform_app.post(with_turns(request, ("user", "4/3/52"))))
    assert "Harold" not in text


def test_platform_key_cannot_name_a_patient(platform_app: PlatformApp) -> None:
    before = platform_app.ids()
    body = {
        "model": "aftercare",
        "user": platform_app.patient_id,
        "metadata": {"patient_id": platform_app.patient_id},
        "messages": [{"role": "user", "content": "my catheter is not draining and my belly hurts"}],
    }
    response = platform_app.post(body)
    assert response.status_code == 200
    new = platform_app.new_since(before)
    assert new and all(e["patient_id"] is None for e in new)
    assert PATIENT_PHONE not in response.text


def test_one_escalation_per_call_and_danger_sign(platform_app: PlatformApp) -> None:
    request = copy.deepcopy(vendor("vapi")["request"])
    request["call"]["id"] = "same-concern-twice"
    request["customer"]["number"] = "+14155550100"
    before = platform_app.ids()
    body = with_turns(request, ("user", CALF))
    said, _, _ = sse(platform_app.post(body))
    body["messages"].append({"role": "assistant", "content": said})
    body["messages"].append({"role": "user", "content": "my calf is swollen and it really hurts"})
    sse(platform_app.post(body))
    assert [e["red_flag_rule"] for e in platform_app.new_since(before)] == ["calf_clot_signs"]
    body["messages"].append({"role": "assistant", "content": "..."})
    body["messages"].append({"role": "user", "content": "I have crushing chest pain right now"})
    sse(platform_app.post(body))
    rules = sorted(e["red_flag_rule"] for e in platform_app.new_since(before))
    assert rules == ["calf_clot_signs", "chest_pain"]


def test_elevenlabs_without_the_prompt_marker_keeps_the_call_by_user_id(
    platform_app: PlatformApp,
) -> None:
    request = copy.deepcopy(vendor("elevenlabs")["request"])
    request["user_id"] = "caller-no-marker"
    prompt = request["messages"][0]["content"]
    request["messages"][0]["content"] = prompt.split("[aftercare-conversation:")[0]
    before = platform_app.ids()
    first = with_turns(request, ("user", CALF))
    sse(platform_app.post(first))
    # A later turn of the same call telling of the same danger sign in other words: the call
    # is known by user_id, so it joins the open escalation instead of opening another.
    later = with_turns(
        request, ("user", CALF), ("assistant", "Please call now."), ("user", CALF + " still")
    )
    sse(platform_app.post(later))
    new = platform_app.new_since(before)
    assert len(new) == 1, new
    assert new[0]["red_flag_rule"] == "calf_clot_signs"


def test_did_keeps_a_call_by_its_conversation_header(platform_app: PlatformApp) -> None:
    request = vendor("did")["request"]
    headers = {"x-api-key": PLATFORM_KEY, "X-Conversation-Id": "did-chat-0001"}
    before = platform_app.ids()
    first = platform_app.post(with_turns(request, ("user", CALF)), headers=headers, root=True)
    assert first.status_code == 200, first.text
    later = with_turns(
        request, ("user", CALF), ("assistant", first.json()["content"]), ("user", CALF + " still")
    )
    again = platform_app.post(later, headers=headers, root=True)
    assert again.status_code == 200, again.text
    # The header ties the two requests into one call: one escalation for one danger sign.
    new = platform_app.new_since(before)
    assert len(new) == 1, new
    assert new[0]["red_flag_rule"] == "calf_clot_signs"

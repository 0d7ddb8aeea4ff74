"""Who is calling and in which call: read from each platform's own request fields.

- Vapi: ``call.id``; the caller's number in ``customer.number`` (or ``call.customer``).
- ElevenLabs Agents: ``user_id`` and ``elevenlabs_extra_body`` (``conversation_id``,
  ``caller_id`` when the session start passed them); the documented way to reach the LLM
  with the call's own ids is the system prompt's dynamic variables, so the agent's prompt
  carries ``[aftercare-conversation:{{system__conversation_id}}]`` and
  ``[aftercare-caller:{{system__caller_id}}]`` (read from system messages only; any
  platform whose prompt has templating can use the same markers).
- Tavus: the conversation's context, sent as a system message, carries the marker our
  provider wrote (:func:`avatar_bridge.providers.patient_ref_from_context`).
- Tavus: conversations started by our provider carry ``[aftercare-conversation:...]`` in
  their context (read like the prompt markers above).
- D-ID, LiveAvatar and any other client: an ``X-Conversation-Id`` header when configured
  (D-ID agents accept custom headers), else nothing stable: a key derived from the whole
  message list recognises an identical retry for a short while only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.channels.openai_compat import ChatRequest
from avatar_bridge.providers import patient_ref_from_context

CONVERSATION_HEADERS = ("x-conversation-id", "x-call-id", "x-session-id")
_CONVERSATION_MARKER = re.compile(r"\[aftercare-conversation:([A-Za-z0-9._:-]{1,200})\]")
_CALLER_MARKER = re.compile(r"\[aftercare-caller:([+0-9 ()-]{3,32})\]")
MAX_ID_CHARS = 200


@dataclass(frozen=True)
class CallIdentity:
    platform: str
    conversation_id: str
    caller_number: str | None = None
    avatar_patient_ref: str | None = None
    # False when no platform id was found and the key is derived from the messages: then
    # different callers saying the same first words could share it, so it is used only to
    # recognise an identical retry for a short while, never for escalations or the gate.
    stable: bool = True


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_ID_CHARS]
    return None


def _get(mapping: object, *path: str) -> object:
    current = mapping
    for part in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def identify_call(headers: Mapping[str, str], body: ChatRequest) -> CallIdentity:
    extra: dict[str, Any] = body.model_extra or {}
    header_id = next((_text(headers.get(h)) for h in CONVERSATION_HEADERS if headers.get(h)), None)
    marker = prompt_conversation = prompt_caller = None
    for message in body.messages:
        if message.role != "system":
            continue
        text = message.text()
        marker = marker or patient_ref_from_context(text)
        found = _CONVERSATION_MARKER.search(text)
        prompt_conversation = prompt_conversation or (found.group(1) if found else None)
        found = _CALLER_MARKER.search(text)
        prompt_caller = prompt_caller or (found.group(1) if found else None)

    vapi_call = _text(_get(extra, "call", "id"))
    if vapi_call:
        number = _text(_get(extra, "customer", "number")) or _text(
            _get(extra, "call", "customer", "number")
        )
        return CallIdentity("vapi", f"vapi:{vapi_call}", number)

    if prompt_conversation:
        return CallIdentity("prompt", f"call:{prompt_conversation}", prompt_caller, marker)
    eleven = extra.get("elevenlabs_extra_body")
    if isinstance(eleven, Mapping) or "elevenlabs_extra_body" in extra:
        conversation = _text(_get(eleven, "conversation_id"))
        number = _text(_get(eleven, "caller_id"))
        # Its requests carry ``user_id`` (the agent's user id for the conversation).
        key = conversation or _text(extra.get("user_id")) or body.user or header_id
        if key is None:
            return CallIdentity("elevenlabs", f"chat:{_messages_key(body)}", number, stable=False)
        return CallIdentity("elevenlabs", f"elevenlabs:{key}", number)

    if header_id:
        return CallIdentity("header", f"call:{header_id}", None, marker)
    if body.user:
        return CallIdentity("user", f"user:{_text(body.user)}", None, marker)
    return CallIdentity("messages", f"chat:{_messages_key(body)}", None, marker, stable=False)


def _messages_key(body: ChatRequest) -> str:
    """The whole conversation so far: what an identical retry repeats."""
    sent = [
        {"role": m.role, "text": m.text(), "at": (m.model_extra or {}).get("created_at")}
        for m in body.messages
    ]
    digest = hashlib.sha256(json.dumps(sent, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def reply_key(call: CallIdentity, body: ChatRequest, kind: str, text: str) -> str:
    """Same call, same place in it, same words: the same reply."""
    position = sum(1 for m in body.messages if m.role in ("user", "tool"))
    digest = hashlib.sha256(f"{kind}\x00{position}\x00{text.strip().lower()}".encode())
    return f"{call.conversation_id}|{digest.hexdigest()[:32]}"

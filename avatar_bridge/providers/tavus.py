"""Tavus Conversational Video Interface (``tavusapi.com/v2``).

Our server is the persona's language model: the persona's ``layers.llm`` points at our
public root (Tavus appends ``/chat/completions``) with a key our endpoint accepts, so the
replica answers the patient with our assistant's sentences. Each session is a conversation:
a video room whose ``conversation_url`` the page opens. Extra speech and interrupts are
interaction events (``conversation.echo``, ``conversation.interrupt``) sent to the
conversation with ``POST /v2/conversations/{id}/send-app-message``. Tavus reports the
conversation's life to our callback URL; :func:`parse_tavus_callback` reads those bodies.

Tavus passes no conversation id to the language model, so the patient's reference travels in
the conversational context (which reaches our endpoint inside the system message) as a
marker that :func:`patient_ref_from_context` reads back.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from avatar_bridge.errors import AvatarCallbackError, AvatarSessionError
from avatar_bridge.providers.base import (
    AvatarEvent,
    AvatarSession,
    EventKind,
    call_vendor,
    check_session,
    field_str,
    join_url,
    require,
    require_secret,
)
from avatar_bridge.settings import AvatarSettings

VENDOR = "Tavus"
_PATIENT_REF = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MARKER = re.compile(r"\[aftercare-patient-ref:([A-Za-z0-9._:-]{1,128})\]")
_EVENT_KINDS: dict[str, EventKind] = {
    "system.replica_joined": "session_ready",
    "system.shutdown": "session_ended",
    "application.transcription_ready": "transcript_ready",
    "application.recording_ready": "recording_ready",
}
PERSONA_PROMPT = (
    "You are the voice of Aftercare, a recovery assistant for men after radical "
    "prostatectomy. Say the assistant's answers as they are given; never add medical advice."
)


def conversational_context(patient_ref: str | None, conversation_ref: str | None = None) -> str:
    """The per-conversation context, carrying the patient's reference as a marker, and a
    conversation marker: Tavus's LLM requests carry no conversation id of their own."""
    call = f"[aftercare-conversation:{conversation_ref}] " if conversation_ref else ""
    if patient_ref is None:
        return f"{call}The patient has not been identified. Speak calmly and plainly."
    if not _PATIENT_REF.match(patient_ref):
        raise ValueError("A patient reference is 1-128 letters, digits, '.', '_', ':' or '-'.")
    return (
        f"{call}[aftercare-patient-ref:{patient_ref}] You are talking with a patient "
        "recovering from radical prostatectomy. Speak calmly and plainly."
    )


def patient_ref_from_context(text: str) -> str | None:
    """The patient reference placed by :func:`conversational_context`, if ``text`` has one.
    Read it from the system message only: patients' words arrive as user messages."""
    match = _MARKER.search(text)
    return match.group(1) if match else None


def tavus_interaction(
    conversation_id: str, event_type: str, properties: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An Interactions Protocol event for one conversation."""
    message: dict[str, Any] = {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": conversation_id,
    }
    if properties is not None:
        message["properties"] = dict(properties)
    return message


def parse_tavus_callback(body: object) -> AvatarEvent:
    """Read one callback that Tavus posted to our callback URL."""
    if not isinstance(body, dict):
        raise AvatarCallbackError("A Tavus callback must be a JSON object.")
    conversation_id = body.get("conversation_id")
    event_type = body.get("event_type")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise AvatarCallbackError("The Tavus callback has no conversation_id.")
    if not isinstance(event_type, str) or not event_type:
        raise AvatarCallbackError("The Tavus callback has no event_type.")
    properties = body.get("properties")
    if not isinstance(properties, dict):
        properties = {}

    reason = properties.get("shutdown_reason")
    transcript: list[tuple[str, str]] = []
    turns = properties.get("transcript")
    if isinstance(turns, list):
        for turn in turns:
            if not isinstance(turn, dict):
                continue
            role, content = turn.get("role"), turn.get("content")
            # The system turn is our own persona prompt and context, not the conversation.
            if isinstance(role, str) and isinstance(content, str) and role != "system":
                transcript.append((role, content))
    return AvatarEvent(
        provider="tavus",
        session_id=conversation_id,
        kind=_EVENT_KINDS.get(event_type, "other"),
        vendor_event=event_type,
        reason=reason if isinstance(reason, str) else None,
        transcript=tuple(transcript),
        raw=body,
    )


def _session_gone(response: httpx.Response, body: dict[str, Any]) -> bool:
    message = str(body.get("error") or body.get("message") or "").lower()
    return response.status_code == 400 and ("invalid conversation" in message or "ended" in message)


class TavusProvider:
    name = "tavus"

    def __init__(self, settings: AvatarSettings, client: httpx.AsyncClient) -> None:
        self._api_key = require_secret(settings.tavus_api_key, VENDOR, "tavus_api_key")
        self._replica_id = require(settings.tavus_replica_id, VENDOR, "tavus_replica_id")
        self._public_base_url = require(settings.public_base_url, VENDOR, "public_base_url")
        if settings.tavus_persona_id is None:
            require_secret(settings.vendor_llm_key, VENDOR, "vendor_llm_key")
        self._settings = settings
        self._client = client
        self._persona_id = settings.tavus_persona_id
        self._persona_lock = asyncio.Lock()

    @property
    def callback_url(self) -> str:
        url = join_url(self._public_base_url, self._settings.tavus_callback_path)
        token = self._settings.tavus_callback_token
        if token is not None:
            url += "?token=" + quote(token.get_secret_value(), safe="")
        return url

    def callback_token_ok(self, token: str | None) -> bool:
        """Whether a callback carries our token (never when no token is configured)."""
        expected = self._settings.tavus_callback_token
        if expected is None:
            return False
        return token is not None and hmac.compare_digest(
            token.encode(), expected.get_secret_value().encode()
        )

    async def create_persona(self) -> str:
        """Create a persona whose language model is our endpoint; returns its id."""
        llm_key = require_secret(self._settings.vendor_llm_key, VENDOR, "vendor_llm_key")
        answer = await self._call(
            "create the persona",
            "POST",
            "/v2/personas",
            {
                "persona_name": "Aftercare",
                "pipeline_mode": "full",
                "system_prompt": PERSONA_PROMPT,
                "default_replica_id": self._replica_id,
                "layers": {
                    "llm": {
                        "model": self._settings.vendor_llm_model,
                        "base_url": self._public_base_url.rstrip("/"),
                        "api_key": llm_key.get_secret_value(),
                    }
                },
            },
        )
        return field_str(answer, "persona_id", VENDOR, "create the persona")

    async def start_session(self, patient_ref: str | None) -> AvatarSession:
        persona_id = await self._persona()
        answer = await self._call(
            "create a conversation",
            "POST",
            "/v2/conversations",
            {
                "persona_id": persona_id,
                "replica_id": self._replica_id,
                "conversation_name": "Aftercare",
                "callback_url": self.callback_url,
                "conversational_context": conversational_context(
                    patient_ref, f"tavus-{uuid.uuid4().hex}"
                ),
                "properties": {
                    "max_call_duration": self._settings.tavus_max_call_duration_s,
                    "participant_left_timeout": self._settings.tavus_participant_left_timeout_s,
                },
            },
        )
        conversation_id = field_str(answer, "conversation_id", VENDOR, "create a conversation")
        conversation_url = field_str(answer, "conversation_url", VENDOR, "create a conversation")
        return AvatarSession(
            provider=self.name,
            session_id=conversation_id,
            patient_ref=patient_ref,
            client={
                "transport": "daily",
                "session_id": conversation_id,
                "conversation_id": conversation_id,
                "conversation_url": conversation_url,
                "answers_via": "custom_llm",
            },
            speaks_itself=True,
            keepalive_s=self._settings.keepalive_s,
            raw=answer,
        )

    async def speak(self, session: AvatarSession, text: str) -> None:
        check_session(session, self.name)
        if not text.strip():
            return
        await self._send(
            session,
            "speak a sentence",
            tavus_interaction(
                session.session_id, "conversation.echo", {"modality": "text", "text": text}
            ),
        )

    async def interrupt(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._send(
            session,
            "interrupt the replica",
            tavus_interaction(session.session_id, "conversation.interrupt"),
        )

    async def keep_alive(self, session: AvatarSession) -> None:
        """Tavus has no keep-alive call (the room lives until its timeouts); this checks
        that the conversation is still active, so a dropped one is noticed."""
        check_session(session, self.name)
        answer = await self._call(
            "check the conversation",
            "GET",
            f"/v2/conversations/{quote(session.session_id, safe='')}",
            None,
            session_scoped=True,
        )
        if answer.get("status") == "ended":
            raise AvatarSessionError(f"{VENDOR} has ended the conversation.")

    async def close(self, session: AvatarSession) -> None:
        check_session(session, self.name)
        await self._call(
            "end the conversation",
            "POST",
            f"/v2/conversations/{quote(session.session_id, safe='')}/end",
            None,
            session_scoped=True,
        )

    async def _persona(self) -> str:
        async with self._persona_lock:
            if self._persona_id is None:
                self._persona_id = await self.create_persona()
            return self._persona_id

    async def _send(self, session: AvatarSession, action: str, message: dict[str, Any]) -> None:
        await self._call(
            action,
            "POST",
            f"/v2/conversations/{quote(session.session_id, safe='')}/send-app-message",
            message,
            session_scoped=True,
        )

    async def _call(
        self,
        action: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        session_scoped: bool = False,
    ) -> dict[str, Any]:
        return await call_vendor(
            self._client,
            vendor=VENDOR,
            action=action,
            method=method,
            url=join_url(self._settings.tavus_base_url, path),
            headers={"x-api-key": self._api_key.get_secret_value(), "accept": "application/json"},
            json=body,
            timeout_s=self._settings.request_timeout_s,
            session_gone=_session_gone if session_scoped else None,
        )

"""WS /v1/voice: the streaming voice conversation.

Keys never travel in the address: a named patient sends ``{"type": "session.start",
"patient_id": ..., "key": ...}`` (his key, or a page session token) as his first message.
A socket that sends no ``session.start`` is anonymous. Sockets are capped per address and
per patient, each socket's messages go through a token bucket, transcripts are rate-limited
per address and patient, and a socket silent for too long is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.channels.deps import client_address
from app.channels.ratelimits import TokenBucket
from app.channels.voice_session import SpeechOut, VoiceSession
from app.conversation.front_door import Caller
from app.errors import AppError, RateLimitedError
from app.services import Services

router = APIRouter(tags=["voice"])
log = logging.getLogger("aftercare.voice")

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
NOT_AUTHENTICATED = 4401


async def _refuse(socket: WebSocket, code: str, message: str, close: int) -> None:
    await socket.send_json({"type": "error", "code": code, "message": message})
    await socket.close(code=close)


@router.websocket("/v1/voice")
async def voice(socket: WebSocket) -> None:
    services: Services = socket.app.state.services
    caps = services.sockets
    address = client_address(socket)
    if not caps.admit_address(address):
        # Refused before the handshake completes: the client sees HTTP 403.
        await socket.close(code=POLICY_VIOLATION)
        return
    try:
        await _serve(socket, services, address)
    finally:
        caps.release_address(address)


async def _serve(socket: WebSocket, services: Services, address: str | None) -> None:
    await socket.accept()
    query = socket.query_params
    if "key" in query or "token" in query:
        await _refuse(
            socket,
            "key_in_address",
            "keys are not accepted in the address; send them in a session.start message",
            NOT_AUTHENTICATED,
        )
        return
    if not services.ready:
        await _refuse(
            socket, "not_ready", "the assistant is still loading; try again shortly", 1013
        )
        return
    section = services.settings.security
    patient_id: str | None = None
    first: Any = None
    if query.get("patient_id"):
        # A named patient must authenticate before anything else.
        first = await _receive(socket, section.voice_auth_timeout_s)
        if first is None:
            return
    else:
        hub = services.avatars
        avatar = hub.session(query.get("avatar_session", ""), None)
        await socket.send_json(
            {"type": "session.ready", "avatar": hub.public(avatar) if avatar else None}
        )
        first = await _receive(socket, section.voice_idle_timeout_s)
        if first is None:
            return
    if isinstance(first, dict) and first.get("type") == "session.start":
        claimed = first.get("patient_id") or query.get("patient_id")
        if claimed is not None:
            key = first.get("key")
            try:
                if not isinstance(claimed, str) or not isinstance(key, str | None):
                    raise AppError("patient_id and key must be strings")
                await services.identify(claimed, key, address)
            except RateLimitedError as exc:
                await _refuse(socket, "rate_limited", str(exc), POLICY_VIOLATION)
                return
            except AppError as exc:
                await _refuse(socket, "not_authenticated", str(exc), NOT_AUTHENTICATED)
                return
            patient_id = claimed
        first = None
    elif query.get("patient_id"):
        await _refuse(
            socket,
            "not_authenticated",
            "a named patient's first message must be session.start with his key",
            NOT_AUTHENTICATED,
        )
        return
    if patient_id is not None and not services.sockets.admit_patient(patient_id):
        await _refuse(socket, "too_many_sockets", "too many open conversations", TRY_AGAIN_LATER)
        return
    try:
        await _converse(socket, services, address, patient_id, first)
    finally:
        if patient_id is not None:
            services.sockets.release_patient(patient_id)


async def _receive(socket: WebSocket, timeout_s: float) -> Any:
    """The next message decoded (or the raw text if not JSON); None once closed or idle."""
    try:
        raw = await asyncio.wait_for(socket.receive_text(), timeout_s)
    except TimeoutError:
        await socket.send_json({"type": "error", "code": "idle", "message": "closed: idle"})
        await socket.close(code=1000)
        return None
    except WebSocketDisconnect:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


async def _converse(
    socket: WebSocket,
    services: Services,
    address: str | None,
    patient_id: str | None,
    pending: Any,
) -> None:
    assert services.assistant is not None
    section = services.settings.security
    hub = services.avatars
    avatar = hub.session(socket.query_params.get("avatar_session", ""), patient_id)
    speech_out: SpeechOut | None = None
    stop_listening = None
    if avatar is not None:
        speech_out = hub.speech_out(avatar, socket.send_json)
        stop_listening = hub.listen(avatar.session_id, socket.send_json)
    context = await asyncio.to_thread(services.turn_context, patient_id)
    session = VoiceSession(
        services.assistant,
        services.door,
        Caller.of(patient_id, address),
        socket.send_json,
        services.metrics,
        patient_id,
        ack_after_s=services.settings.voice_ack_after_s,
        speech_out=speech_out,
        patient_context=context.patient_context,
        follow_up=context.follow_up,
    )
    actor = f"patient:{patient_id}" if patient_id else "anonymous"
    await services.people.audit_async(
        actor, "voice.connect", "voice", patient_id, session.conversation_id, source=address
    )
    if patient_id is not None:
        await socket.send_json(
            {
                "type": "session.ready",
                "avatar": hub.public(avatar) if avatar else None,
                "patient_id": patient_id,
            }
        )
    bucket = TokenBucket(section.voice_burst, section.voice_refill_per_s)
    refused = 0
    try:
        message = pending
        while True:
            if message is None:
                message = await _receive(socket, section.voice_idle_timeout_s)
                if message is None:
                    return
            if not bucket.take():
                refused += 1
                if refused > section.voice_burst:
                    await _refuse(socket, "rate_limited", "too many messages", POLICY_VIOLATION)
                    return
                await session.handle_error("rate_limited", "too many messages; slow down")
                message = None
                continue
            if isinstance(message, str):
                await session.handle_error("bad_json", "the message is not valid JSON")
            elif isinstance(message, dict) and message.get("type") == "session.start":
                await session.handle_error("already_started", "the session has started")
            else:
                if _is_final_transcript(message):
                    wait = services.limits.hit(
                        "voice", address, patient_id and f"patient:{patient_id}"
                    )
                    if wait is not None:
                        await session.handle_error(
                            "rate_limited", f"too many questions; try again in {wait:.0f} s"
                        )
                        message = None
                        continue
                    await services.people.audit_async(
                        actor,
                        "voice.turn",
                        "turn",
                        patient_id,
                        session.conversation_id,
                        source=address,
                    )
                await session.handle(message)
            message = None
    except WebSocketDisconnect:
        pass
    finally:
        if stop_listening is not None:
            stop_listening()
        await session.close()


def _is_final_transcript(message: object) -> bool:
    return (
        isinstance(message, dict)
        and message.get("type") == "user_transcript"
        and message.get("final", True) is True
    )

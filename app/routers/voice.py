"""WS /v1/voice: the streaming voice conversation."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.errors import AppError
from app.services import Services
from app.voice import SpeechOut, VoiceSession

router = APIRouter(tags=["voice"])
log = logging.getLogger("aftercare.voice")


@router.websocket("/v1/voice")
async def voice(socket: WebSocket) -> None:
    services: Services = socket.app.state.services
    await socket.accept()
    query = socket.query_params
    patient_id = query.get("patient_id") or None
    try:
        if patient_id is not None:
            services.people.patient_for_key(patient_id, query.get("key"))
            services.people.audit(f"patient:{patient_id}", "voice.connect", "voice", patient_id)
    except AppError as exc:
        await socket.send_json({"type": "error", "code": "not_authenticated", "message": str(exc)})
        await socket.close(code=4401)
        return
    if services.assistant is None:
        await socket.send_json(
            {
                "type": "error",
                "code": "not_ready",
                "message": "the assistant is still loading; try again shortly",
            }
        )
        await socket.close(code=1013)
        return

    hub = services.avatars
    avatar = hub.session(query.get("avatar_session", ""), patient_id)
    speech_out: SpeechOut | None = None
    stop_listening = None
    if avatar is not None:
        speech_out = hub.speech_out(avatar, socket.send_json)
        stop_listening = hub.listen(avatar.session_id, socket.send_json)
    session = VoiceSession(
        services.assistant,
        socket.send_json,
        services.metrics,
        patient_id,
        ack_after_s=services.settings.voice_ack_after_s,
        max_chars=services.settings.max_question_chars,
        speech_out=speech_out,
        patient_context=services.turn_context(patient_id).patient_context,
    )
    await socket.send_json(
        {"type": "session.ready", "avatar": hub.public(avatar) if avatar else None}
    )
    try:
        while True:
            raw = await socket.receive_text()
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                await session.handle_error("bad_json", "the message is not valid JSON")
                continue
            await session.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        if stop_listening is not None:
            stop_listening()
        await session.close()

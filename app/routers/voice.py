"""WS /v1/voice: the streaming voice conversation."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.errors import AppError
from app.services import Services
from app.voice import VoiceSession

router = APIRouter(tags=["voice"])
log = logging.getLogger("aftercare.voice")


@router.websocket("/v1/voice")
async def voice(socket: WebSocket) -> None:
    services: Services = socket.app.state.services
    await socket.accept()
    patient_id = socket.query_params.get("patient_id") or None
    try:
        if patient_id is not None:
            services.people.patient_for_key(patient_id, socket.query_params.get("key"))
            services.people.audit(f"patient:{patient_id}", "voice.connect", "voice", patient_id)
    except AppError as exc:
        await socket.send_json({"type": "error", "code": "not_authenticated", "message": str(exc)})
        await socket.close(code=4401)
        return
    if services.assistant is None:
        await socket.send_json({"type": "error", "code": "not_ready",
                                "message": "the assistant is still loading; try again shortly"})
        await socket.close(code=1013)
        return

    session = VoiceSession(
        services.assistant, socket.send_json, services.metrics, patient_id,
        ack_after_s=services.settings.voice_ack_after_s,
        max_chars=services.settings.max_question_chars,
        speech_out=await services.speech_out_for(socket, patient_id),
    )
    await socket.send_json({"type": "session.ready", "avatar": services.avatar_client_info()})
    try:
        while True:
            raw = await socket.receive_text()
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                await socket.send_json({"type": "error", "code": "bad_json",
                                        "message": "the message is not valid JSON"})
                continue
            await session.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        await session.close()

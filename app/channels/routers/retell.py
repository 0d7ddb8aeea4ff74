"""WS /v1/retell/{call_id}: Retell's custom-LLM socket. Retell sends no auth header: the
platform key is part of the URL configured in its dashboard (``?key=``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.channels.platforms.retell import RetellCall
from app.errors import NotAuthenticatedError, RateLimitedError
from app.people.auth import authenticate_platform
from app.services import Services

router = APIRouter(tags=["platforms"])


@router.websocket("/v1/retell/{call_id}")
async def retell(socket: WebSocket, call_id: str) -> None:
    services: Services = socket.app.state.services
    allowed = services.settings.retell_allowed_addresses
    address = socket.client.host if socket.client else ""
    if allowed and address not in allowed:
        await socket.close(code=1008)
        return
    try:
        await asyncio.to_thread(
            authenticate_platform, services, socket.query_params.get("key"), address or None
        )
    except (NotAuthenticatedError, RateLimitedError):
        await socket.close(code=1008)
        return
    if not services.ready or not call_id.strip() or len(call_id) > 200:
        await socket.close(code=1013 if not services.ready else 1008)
        return
    await socket.accept()
    call = RetellCall(services, call_id, socket.send_json)
    await call.open()
    try:
        while True:
            await call.handle_text(await socket.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        await call.close()

"""Avatar sessions for the patient's page, and the vendors' callbacks."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from app.channels.deps import AddressDep, KeyDep, ServicesDep
from avatar_bridge.errors import AvatarCallbackError, AvatarError
from avatar_bridge.providers.tavus import TavusProvider, parse_tavus_callback

router = APIRouter(prefix="/v1/avatar", tags=["avatar"])
log = logging.getLogger("aftercare.avatar")


class AvatarSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: str | None = None


@router.post("/session")
async def start_session(
    body: AvatarSessionRequest, services: ServicesDep, key: KeyDep, address: AddressDep
) -> dict[str, Any]:
    """Start a vendor session; with no vendor (or a failing one) the page uses its own voice.

    Vendor sessions cost money: starts are rate-limited per address and patient.
    """
    if body.patient_id is not None:
        await services.identify(body.patient_id, key, address)
    hub = services.avatars
    if not hub.configured:
        return {"avatar": None, "voice": "browser"}
    patient = body.patient_id and f"patient:{body.patient_id}"
    services.limits.check("avatar", address, patient)
    await services.people.audit_async(
        f"patient:{body.patient_id}" if body.patient_id else "anonymous",
        "avatar.start",
        "avatar",
        body.patient_id,
        source=address,
    )
    try:
        session = await hub.start(body.patient_id)
    except AvatarError as exc:
        log.warning("avatar session could not start: %s", type(exc).__name__)
        return {
            "avatar": None,
            "voice": "browser",
            "message": "The video avatar is not available right now; your browser will speak.",
        }
    return {"avatar": hub.public(session), "voice": "avatar"}


@router.delete("/session/{session_id}", status_code=204)
async def close_session(
    session_id: str,
    services: ServicesDep,
    key: KeyDep,
    address: AddressDep,
    patient_id: str | None = None,
) -> None:
    """A named patient's session closes only with his key; unknown ids are a no-op."""
    if patient_id is not None:
        await services.identify(patient_id, key, address)
    if services.avatars.session(session_id, patient_id) is not None:
        await services.avatars.close(session_id)


@router.post("/tavus/callback")
async def tavus_callback(
    request: Request, services: ServicesDep, token: str = Query(default="")
) -> dict[str, str]:
    provider = services.avatars.provider
    if not isinstance(provider, TavusProvider):
        raise HTTPException(404, "no Tavus provider is configured")
    if not provider.callback_token_ok(token):
        raise HTTPException(403, "callback token refused")
    try:
        event = parse_tavus_callback(await request.json())
    except (AvatarCallbackError, ValueError) as exc:
        raise HTTPException(400, f"not a Tavus callback: {exc}") from exc
    if event.kind == "session_ended":
        await services.avatars.dropped(event.session_id, event.reason or "the conversation ended")
    return {"status": "received", "kind": event.kind}

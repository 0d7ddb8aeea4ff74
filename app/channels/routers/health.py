"""Liveness, and readiness: the model and index loaded, and the database answering."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine

from app.channels.deps import AddressDep, KeyDep, ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    if not services.ready:
        return JSONResponse({"status": "loading"}, status_code=503)
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, services.engine), timeout=5)
    except Exception:  # down, unreachable or too slow: not ready for patients' turns
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


@router.get("/metrics")
async def metrics(services: ServicesDep, key: KeyDep, address: AddressDep) -> Response:
    """Prometheus figures: staff only, unless the operator made them public."""
    if not services.settings.security.public_metrics:
        await asyncio.to_thread(
            services.people.staff_for_key, key, ("coordinator", "clinician"), address
        )
    return PlainTextResponse(
        services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )

"""Liveness, and readiness: the model and index loaded, and the database answering."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine

from app.channels.deps import AddressDep, KeyDep, ServicesDep

router = APIRouter(tags=["health"])
INDEX_PROBE_S = 5.0


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
    problem = await _index_problem(services)
    if problem is not None:
        return JSONResponse({"status": "index_unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


async def _index_problem(services: ServicesDep) -> str | None:
    """Why the index cannot serve answers (a Chroma server down or still empty), or None."""
    collections = services.collections
    if collections is None:
        return "the index is not open"
    try:
        chunks = await asyncio.wait_for(asyncio.to_thread(collections.chunks.count), INDEX_PROBE_S)
    except Exception as exc:  # any failure to reach the store means not ready
        return f"cannot reach the corpus index: {type(exc).__name__}"
    if chunks == 0:
        return "the corpus index is empty (run `aftercare ingest`, or start the worker)"
    return None


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

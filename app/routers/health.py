"""Liveness and readiness."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    if services.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "loading"}, status_code=503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return PlainTextResponse(
        services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )

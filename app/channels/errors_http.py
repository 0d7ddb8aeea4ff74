"""One place that maps every package's errors to HTTP answers."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.errors import (
    AppError,
    CorpusNotWritableError,
    DocumentConflictError,
    DocumentRejectedError,
    ForbiddenError,
    InvalidQuestionError,
    NotAuthenticatedError,
    NotReadyError,
    PatientExistsError,
    RateLimitedError,
    UnknownDocumentError,
    UnknownPatientError,
    UnknownTurnError,
    UploadTooLargeError,
)
from avatar_bridge.errors import AvatarError
from escalation.errors import (
    EscalationError,
    IllegalTransitionError,
    UnknownAppointmentError,
    UnknownEscalationError,
)
from ingestion.errors import IngestionError

_STATUS: list[tuple[type[Exception], int]] = [
    (NotAuthenticatedError, 401),
    (ForbiddenError, 403),
    (UnknownPatientError, 404),
    (UnknownDocumentError, 404),
    (UnknownTurnError, 404),
    (DocumentConflictError, 409),
    (DocumentRejectedError, 422),
    (UploadTooLargeError, 413),
    (CorpusNotWritableError, 507),
    (PatientExistsError, 409),
    (InvalidQuestionError, 422),
    (NotReadyError, 503),
    (RateLimitedError, 429),
    (AppError, 400),
    (IngestionError, 503),
    (AvatarError, 502),
    (UnknownEscalationError, 404),
    (UnknownAppointmentError, 404),
    (IllegalTransitionError, 409),
    (EscalationError, 500),
]


def status_for(exc: Exception) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return int(getattr(exc, "http_status", status))
    return 500


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(math.ceil(exc.retry_after))}
        extra: dict[str, object] = getattr(exc, "body_extra", {})
        return JSONResponse({"detail": str(exc), **extra}, status_code=status, headers=headers)

    for kind in (AppError, IngestionError, AvatarError, EscalationError):
        app.add_exception_handler(kind, handle)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)

"""Logging: JSON lines with a timestamp, the level from the settings, the request id on
every line, and keys, tokens and patient ids blanked out of any URL before it is written.

What the application logs never includes patient names, phone numbers, dates of birth or
what was asked: log ids and outcomes, never content.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# key=..., token=..., patient_id=..., code=... in a query string (or anywhere "name=value").
SECRET_PARAMS = ("key", "token", "patient_id", "code", "api_key", "access_token")
_SECRET = re.compile(
    r"(?P<name>\b(?:" + "|".join(SECRET_PARAMS) + r"))=(?P<value>[^&\s\"']*)", re.IGNORECASE
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with the values of secret parameters and bearer tokens replaced."""
    text = _SECRET.sub(lambda m: f"{m.group('name')}=[redacted]", text)
    return _BEARER.sub(r"\1 [redacted]", text)


class RedactingFilter(logging.Filter):
    """Formats the record's message once, redacted, so no handler sees the secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep its template only
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        record.request_id = request_id.get()
        return True


_HANDLER_NAME = "aftercare-json"


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """One JSON-lines handler on the root logger (replacing an earlier one of ours)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler

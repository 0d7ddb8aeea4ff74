"""Keys carried in URLs (``?key=``: Retell's socket, the patient voice socket) never reach
the server's logs: uvicorn logs request paths with their query strings."""

from __future__ import annotations

import logging
import re

_QUERY_KEY = re.compile(r"((?:^|[?&])(?:key|api_key|token)=)[^&\s\"']+", re.IGNORECASE)
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn")


def redact(text: str) -> str:
    return _QUERY_KEY.sub(r"\1[redacted]", text)


class QueryKeyRedaction(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_query_key_redaction() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryKeyRedaction) for f in logger.filters):
            logger.addFilter(QueryKeyRedaction())

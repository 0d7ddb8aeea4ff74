"""The server's settings for uvicorn: frame limit, logging, pings (used by `aftercare serve`).

``app`` is the app itself (one process), or the import string of a factory that builds it
from the environment (``app.operations.roles:web_app``), which uvicorn calls in each of ``workers``
processes.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from app.settings import Settings


def uvicorn_config(
    app: FastAPI | str, settings: Settings, host: str, port: int, workers: int = 1
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the app's JSON logging (configured in create_app) takes the lines
        log_level=settings.log_level.lower(),
        ws_max_size=settings.security.ws_max_message_bytes,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        lifespan="on",
        server_header=False,
        factory=isinstance(app, str),
        workers=workers,
    )

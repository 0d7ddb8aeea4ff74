"""ASGI middleware: a request id for every line logged, and the request-body limit.

The body limit answers 413 as soon as the announced ``Content-Length`` is over it, before
a byte of the body is read; a body sent without a length (chunked) is counted as it
arrives and refused the moment it passes the limit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.operations.logs import request_id


class RequestContext:
    """Gives each request and socket an id that every log line carries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = request_id.set(uuid.uuid4().hex[:16])
        try:
            await self.app(scope, receive, send)
        finally:
            request_id.reset(token)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_max = max_bytes
        # Path prefixes allowed more (document uploads); the route checks its own limit.
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next(
            (size for prefix, size in self.larger.items() if path.startswith(prefix)),
            self.default_max,
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    await _reject(send, 400, "the Content-Length header is not a number")
                    return
                if announced > limit:
                    await _reject(send, 413, self._message(limit))
                    return
        received = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now; the app sees a client that went away.
                    refused = True
                    if not started:
                        await _reject(send, 413, self._message(limit))
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; nothing the app says after it is sent
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    def _message(limit: int) -> str:
        return f"the request body is over the limit of {limit} bytes"


async def _reject(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

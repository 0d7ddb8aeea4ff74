"""A stand-in for an OpenAI-compatible model, for benchmarks: known text, known delay.

It streams each question's scripted answer (chosen by a phrase found in the last user
message) word by word after a fixed time to first token, so that a benchmark measures our
own overhead around generation and not a real model's speed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def model_app(answers: dict[str, str], first_token_s: float) -> Starlette:
    async def completions(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
        asked = str(users[-1]).lower() if users else ""
        text = next((a for phrase, a in answers.items() if phrase.lower() in asked), "")
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return JSONResponse(
                {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
            )
        return StreamingResponse(_events(text, first_token_s), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


async def _events(text: str, first_token_s: float) -> AsyncIterator[str]:
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
    await asyncio.sleep(first_token_s)
    pieces: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    pieces += [{"content": word + " "} for word in text.split()]
    for delta in [*pieces, {}]:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None if delta else "stop"}],
        }
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def serve_model(answers: dict[str, str], first_token_s: float, port: int) -> None:
    """Run the stand-in on 127.0.0.1:port until the process ends (a benchmark's child)."""
    config = uvicorn.Config(
        model_app(answers, first_token_s), host="127.0.0.1", port=port, log_level="warning"
    )
    uvicorn.Server(config).run()

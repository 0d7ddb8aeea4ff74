"""A local OpenAI-compatible chat server on loopback that streams scripted completions.

It speaks the documented streaming protocol of POST /v1/chat/completions: server-sent
events, each `data:` line a `chat.completion.chunk` carrying a content delta, then
`data: [DONE]`. What it says is scripted: the script is chosen by the `x-scenario`
header, else by a phrase of the last user message, else the server's default. Every
request is recorded so tests can read the prompt that was sent.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.support.loopback import LoopbackServer


@dataclass(frozen=True)
class Script:
    """One scripted completion."""

    text: str = ""
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    sentence_pause_s: float = 0.0
    status: int = 200
    error_after_sentences: int | None = None


@dataclass(frozen=True)
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]
    received: float

    @property
    def user_message(self) -> str:
        users = [m["content"] for m in self.body.get("messages", []) if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    @property
    def system_message(self) -> str:
        found = [m["content"] for m in self.body.get("messages", []) if m.get("role") == "system"]
        return str(found[0]) if found else ""


@dataclass
class ScriptedChatServer:
    default: Script = field(default_factory=Script)
    scenarios: dict[str, Script] = field(default_factory=dict)
    by_phrase: dict[str, Script] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    port: int = 0
    _server: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def choose(self, request: Recorded) -> Script:
        name = request.headers.get("x-scenario")
        if name is not None and name in self.scenarios:
            return self.scenarios[name]
        for phrase, script in self.by_phrase.items():
            if phrase.lower() in request.user_message.lower():
                return script
        return self.default

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            body = await request.json()
            recorded = Recorded(body, dict(request.headers), time.monotonic())
            self.requests.append(recorded)
            script = self.choose(recorded)
            if script.status != 200:
                return JSONResponse(
                    {
                        "error": {
                            "message": "the model is unavailable",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    },
                    status_code=script.status,
                )
            if not body.get("stream"):
                return JSONResponse(_completion(body, script.text))
            return StreamingResponse(self._stream(body, script), media_type="text/event-stream")

        return app

    async def _stream(self, body: dict[str, Any], script: Script) -> AsyncIterator[str]:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        model = str(body.get("model", ""))
        try:
            await asyncio.sleep(script.first_token_delay_s)
            yield _event(_chunk(ident, model, {"role": "assistant", "content": ""}))
            sentences = 0
            tokens = re.findall(r"\s*\S+", script.text)
            for token in tokens:
                yield _event(_chunk(ident, model, {"content": token}))
                if token.rstrip().endswith((".", "!", "?")):
                    sentences += 1
                    if script.error_after_sentences == sentences:
                        yield _event(
                            {"error": {"message": "the model stopped", "type": "server_error"}}
                        )
                        return
                    await asyncio.sleep(script.sentence_pause_s)
                await asyncio.sleep(script.token_delay_s)
            yield _event(_chunk(ident, model, {}, finish_reason="stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                yield _event(_usage_chunk(ident, model, prompt_tokens(body), len(tokens)))
            yield "data: [DONE]\n\n"
        finally:
            self.finished.append(time.monotonic())

    def start(self) -> ScriptedChatServer:
        self._server = LoopbackServer(self.app(), "scripted chat server")
        self.port = self._server.port
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def reset(self) -> None:
        self.requests.clear()
        self.finished.clear()


def _chunk(
    ident: str, model: str, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def prompt_tokens(body: dict[str, Any]) -> int:
    """The server's token count of a prompt: its whitespace-separated words."""
    return sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))


def _usage_chunk(ident: str, model: str, prompt: int, completion: int) -> dict[str, Any]:
    """The last chunk when the client asked for usage: no choices, only the counts."""
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model", "")),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def running(server: ScriptedChatServer) -> Iterator[ScriptedChatServer]:
    """For fixtures: start, hand over, stop."""
    server.start()
    try:
        yield server
    finally:
        server.stop()

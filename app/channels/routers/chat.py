"""POST /v1/chat/completions and /chat/completions: Aftercare as a platform's custom LLM."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from app.channels.deps import client_address
from app.channels.openai_compat import ChatRequest, CompletionIds, openai_error
from app.channels.platforms.answering import plan_reply
from app.channels.platforms.calls import identify_call, reply_key
from app.channels.platforms.reply_book import Reply
from app.channels.platforms.turns import platform_key
from app.errors import InvalidQuestionError, NotAuthenticatedError, NotReadyError, RateLimitedError
from app.people.auth import authenticate_platform
from app.services import Services

router = APIRouter(tags=["platforms"])
UNSTABLE_REPLY_TTL_S = 20.0


def _error(
    status: int, message: str, kind: str, code: str | None, param: str | None = None
) -> Response:
    return JSONResponse(openai_error(message, kind, code, param), status_code=status)


@router.post("/v1/chat/completions", response_model=None)
@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request) -> Response:
    services: Services = request.app.state.services
    address = client_address(request)
    try:
        caller = await asyncio.to_thread(
            authenticate_platform, services, platform_key(request.headers), address
        )
        services.limits.check("chat", address, caller.id)
    except RateLimitedError as exc:
        return JSONResponse(
            openai_error(str(exc), "rate_limit_error", "rate_limit_exceeded"),
            status_code=429,
            headers={"Retry-After": str(math.ceil(exc.retry_after))},
        )
    except NotAuthenticatedError:
        return _error(
            401, "Invalid or missing API key.", "invalid_request_error", "invalid_api_key"
        )
    try:
        body = ChatRequest.model_validate(await request.json())
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, f"Invalid request body: {exc}", "invalid_request_error", None)
    kind = body.last_kind()
    if kind == "none":
        return _error(
            400,
            "The request has no user message to answer.",
            "invalid_request_error",
            None,
            "messages",
        )
    utterance = body.utterance() or ""
    try:
        if utterance.strip():
            services.door.check_question(utterance)
        services.door.open_assistant()
    except InvalidQuestionError as exc:
        return _error(
            400, f"The user message is invalid: {exc}.", "invalid_request_error", None, "messages"
        )
    except NotReadyError:
        return _error(503, "The assistant is still loading.", "server_error", "not_ready")
    call = identify_call(request.headers, body)
    key = reply_key(call, body, kind, utterance)
    produce = plan_reply(services, call, kind, utterance, body.history(), body.tools)
    # Without a platform id, only an identical retry shortly after is the same request.
    ttl = None if call.stable else UNSTABLE_REPLY_TTL_S
    reply, _ = services.replies.reply(key, Reply.new, produce, ttl)
    ids = CompletionIds(body.model, reply.completion_id, reply.created)
    if body.stream:
        return StreamingResponse(
            _stream(reply, ids),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    await reply.complete()
    if reply.failed and not reply.sentences:
        return _error(500, "The answer could not be produced.", "server_error", "turn_failed")
    words = len(reply.text.split())
    return JSONResponse(ids.completion(reply.text, reply.tool_calls or None, words))


async def _stream(reply: Reply, ids: CompletionIds) -> AsyncIterator[str]:
    yield ids.chunk({"role": "assistant", "content": ""})
    first = True
    async for sentence in reply.follow():
        yield ids.chunk({"content": sentence if first else " " + sentence})
        first = False
    finish = "stop"
    if reply.tool_calls:
        yield ids.chunk({"tool_calls": reply.tool_calls})
        finish = "tool_calls"
    yield ids.chunk({}, finish)
    yield "data: [DONE]\n\n"

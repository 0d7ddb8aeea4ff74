"""POST /v1/chat/completions and /chat/completions: Aftercare as a platform's custom LLM."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from app.assistant import TurnContext
from app.auth import PlatformCaller, authenticate_platform
from app.deps import client_address, presented_key
from app.errors import AppError, NotAuthenticatedError, RateLimitedError
from app.openai_compat import ChatRequest, CompletionIds, openai_error, transfer_destination
from app.services import Services
from app.turn import CompletedEvent, SentenceEvent, TurnResult

router = APIRouter(tags=["platforms"])


@router.post("/v1/chat/completions", response_model=None)
@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request) -> Response:
    services: Services = request.app.state.services
    address = client_address(request)
    try:
        caller = await asyncio.to_thread(
            authenticate_platform, services, presented_key(request), address
        )
        services.limits.check("chat", address, caller.id)
    except RateLimitedError as exc:
        return JSONResponse(
            openai_error(str(exc), "rate_limit_error", "rate_limit_exceeded"),
            status_code=429,
            headers={"Retry-After": str(math.ceil(exc.retry_after))},
        )
    except NotAuthenticatedError:
        return JSONResponse(
            openai_error("Invalid or missing API key.", "invalid_request_error", "invalid_api_key"),
            status_code=401,
        )
    try:
        body = ChatRequest.model_validate(await request.json())
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return JSONResponse(
            openai_error(f"Invalid request body: {exc}", "invalid_request_error", None),
            status_code=400,
        )
    utterance = body.utterance()
    if utterance is None:
        return JSONResponse(
            openai_error(
                "The request has no user message to answer.",
                "invalid_request_error",
                None,
                "messages",
            ),
            status_code=400,
        )
    if len(utterance) > services.settings.max_question_chars:
        return JSONResponse(
            openai_error(
                "The user message is too long.", "invalid_request_error", None, "messages"
            ),
            status_code=400,
        )
    if services.assistant is None:
        return JSONResponse(
            openai_error("The assistant is still loading.", "server_error", "not_ready"),
            status_code=503,
        )
    patient_id = await asyncio.to_thread(_patient_ref, services, body, caller, address)
    context = services.turn_context(patient_id, body.history(), channel="chat")
    ids = CompletionIds(body.model)
    tool = body.transfer_tool()
    if body.stream:
        return StreamingResponse(
            _stream(services, utterance, context, ids, tool),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    result = await services.assistant.ask(utterance, context)
    services.metrics.observe(result, "platform")
    calls = _tool_calls(services, result, ids, tool)
    return JSONResponse(ids.completion(result.answer, calls, len(result.answer.split())))


def _patient_ref(
    services: Services, body: ChatRequest, caller: PlatformCaller, address: str | None
) -> str | None:
    """A platform (trusted by its key) may name the patient in `user` or `metadata`."""
    ref = body.user or (body.metadata or {}).get("patient_id")
    if not isinstance(ref, str) or not ref:
        return None
    try:
        services.people.patient(ref)
    except AppError:
        return None
    services.people.audit(
        caller.actor, "chat.completions", "turn", ref, key_id=caller.id, source=address
    )
    return ref


def _tool_calls(
    services: Services, result: TurnResult, ids: CompletionIds, tool: str | None
) -> list[dict[str, object]] | None:
    destination = transfer_destination(result, services.clinic)
    if tool is None or destination is None:
        return None
    return [ids.tool_call(tool, destination)]


async def _stream(
    services: Services, utterance: str, context: TurnContext, ids: CompletionIds, tool: str | None
) -> AsyncIterator[str]:
    assert services.assistant is not None
    yield ids.chunk({"role": "assistant", "content": ""})
    result: TurnResult | None = None
    first = True
    async for event in services.assistant.turn(utterance, context):
        if isinstance(event, SentenceEvent):
            yield ids.chunk({"content": event.text if first else " " + event.text})
            first = False
        elif isinstance(event, CompletedEvent):
            result = event.result
    finish = "stop"
    if result is not None:
        services.metrics.observe(result, "platform")
        calls = _tool_calls(services, result, ids, tool)
        if calls:
            yield ids.chunk({"tool_calls": calls})
            finish = "tool_calls"
    yield ids.chunk({}, finish)
    yield "data: [DONE]\n\n"

"""Local stand-ins for the avatar vendors, speaking their documented HTTP protocols.

Each fake checks what the real service checks (method, path, API key or bearer token, the
body fields it needs), records every call, and can be told to fail, hang or forget a
session, so the providers can be tested without the network.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

HEYGEN_KEY = "hg-test-key-0001"
LIVEAVATAR_KEY = "la-test-key-0002"
TAVUS_KEY = "tv-test-key-0003"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class VendorState:
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # path -> HTTP status to answer with
    hang: set[str] = field(default_factory=set)  # paths that never answer (until released)
    release: threading.Event = field(default_factory=threading.Event)
    sessions: dict[str, str] = field(default_factory=dict)  # id -> state
    tokens: dict[str, str] = field(default_factory=dict)  # token -> session id ("" if none)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def calls_to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter):04d}"


async def _record(state: VendorState, request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    body: Any = None
    if raw:
        try:
            body = await request.json()
        except ValueError:
            body = raw.decode(errors="replace")
    state.calls.append(
        Call(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
    )
    path = request.url.path
    if path in state.hang:
        await asyncio.to_thread(state.release.wait, 30)
    if path in state.fail:
        return body, JSONResponse({"message": "internal error"}, status_code=state.fail[path])
    return body, None


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[len("Bearer ") :] if value.startswith("Bearer ") else None


def _error(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


# --- HeyGen Interactive (Streaming) Avatar ---------------------------------------------


def heygen_app(state: VendorState) -> FastAPI:
    app = FastAPI()
    unauthorized = {"code": 400112, "message": "Unauthorized"}

    def keyed(request: Request) -> bool:
        return request.headers.get("x-api-key") == HEYGEN_KEY

    def token_ok(request: Request) -> bool:
        token = _bearer(request)
        return token is not None and token in state.tokens

    def session_call(body: Any, *, started: bool = True) -> JSONResponse | str:
        if not isinstance(body, dict) or not isinstance(body.get("session_id"), str):
            return _error(400, code=400006, message="Invalid params")
        session_id = str(body["session_id"])
        wanted = ("started",) if started else ("new", "started")
        if state.sessions.get(session_id) not in wanted:
            return _error(400, code=400006, message="Session is not in correct state")
        return session_id

    @app.post("/v1/streaming.create_token")
    async def create_token(request: Request) -> Response:
        _, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return _error(401, **unauthorized)
        token = state.next_id("hg-session-token-")
        state.tokens[token] = ""
        return JSONResponse({"error": None, "data": {"token": token}})

    @app.post("/v1/streaming.new")
    async def new(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not token_ok(request):
            return _error(401, **unauthorized)
        if (
            not isinstance(body, dict)
            or body.get("version") != "v2"
            or not isinstance(body.get("avatar_id"), str)
        ):
            return _error(400, code=400006, message="Invalid params")
        session_id = state.next_id("hg-session-")
        state.sessions[session_id] = "new"
        return JSONResponse(
            {
                "code": 100,
                "message": "success",
                "data": {
                    "session_id": session_id,
                    "url": "wss://heygen.livekit.example",
                    "access_token": f"lk-{session_id}",
                    "realtime_endpoint": "wss://realtime.heygen.example/ws",
                    "session_duration_limit": 600,
                    "is_paid": True,
                },
            }
        )

    @app.post("/v1/streaming.start")
    async def start(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not token_ok(request):
            return _error(401, **unauthorized)
        checked = session_call(body, started=False)
        if isinstance(checked, JSONResponse):
            return checked
        state.sessions[checked] = "started"
        return JSONResponse({"code": 100, "data": None, "message": "success"})

    @app.post("/v1/streaming.task")
    async def task(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not (keyed(request) or token_ok(request)):
            return _error(401, **unauthorized)
        checked = session_call(body)
        if isinstance(checked, JSONResponse):
            return checked
        if body.get("task_type") != "repeat" or not isinstance(body.get("text"), str):
            return _error(422, code=400006, message="only repeat tasks with text are expected")
        return JSONResponse({"code": 100, "data": {"task_id": "t1", "duration_ms": 1200}})

    for route in ("interrupt", "keep_alive", "stop"):

        async def control(request: Request, route: str = route) -> Response:
            body, failed = await _record(state, request)
            if failed:
                return failed
            if not (keyed(request) or token_ok(request)):
                return _error(401, **unauthorized)
            checked = session_call(body, started=route != "stop")
            if isinstance(checked, JSONResponse):
                return checked
            if route == "stop":
                state.sessions[checked] = "closed"
            return JSONResponse({"code": 100, "data": None, "message": "success"})

        app.add_api_route(f"/v1/streaming.{route}", control, methods=["POST"])

    return app


# --- HeyGen LiveAvatar ---------------------------------------------------------------


def liveavatar_app(state: VendorState) -> FastAPI:
    app = FastAPI()

    def keyed(request: Request) -> bool:
        return request.headers.get("x-api-key") == LIVEAVATAR_KEY

    def wrap(data: Any, status: int = 200) -> JSONResponse:
        return JSONResponse({"code": 100, "data": data, "message": "ok"}, status_code=status)

    @app.post("/v1/sessions/token")
    async def token(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return _error(401, code=401, message="Invalid API key")
        if (
            not isinstance(body, dict)
            or body.get("mode") not in ("FULL", "CUSTOM")
            or not isinstance(body.get("avatar_id"), str)
            or not isinstance(body.get("avatar_persona", {}), dict)
        ):
            return _error(422, detail="invalid session token request")
        config = body.get("llm_configuration_id")
        if config is not None and config not in state.objects:
            return _error(400, code=400, message="Unknown LLM configuration")
        session_id = state.next_id("la-session-")
        session_token = state.next_id("la-token-")
        state.sessions[session_id] = "new"
        state.tokens[session_token] = session_id
        return wrap({"session_id": session_id, "session_token": session_token})

    @app.post("/v1/sessions/start")
    async def start(request: Request) -> Response:
        _, failed = await _record(state, request)
        if failed:
            return failed
        session_id = state.tokens.get(_bearer(request) or "")
        if not session_id:
            return _error(401, code=401, message="Invalid session token")
        state.sessions[session_id] = "started"
        return wrap(
            {
                "session_id": session_id,
                "livekit_url": "wss://liveavatar.livekit.example",
                "livekit_client_token": f"lk-client-{session_id}",
                "livekit_agent_token": f"lk-agent-{session_id}",
                "max_session_duration": 1200,
                "ws_url": "wss://liveavatar.example/ws",
            },
            status=201,
        )

    async def session_op(request: Request, stop: bool) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        bearer_session = state.tokens.get(_bearer(request) or "")
        if not (keyed(request) or bearer_session):
            return _error(401, code=401, message="Invalid API key")
        session_id = body.get("session_id") if isinstance(body, dict) else None
        if state.sessions.get(session_id or "") not in ("new", "started"):
            return _error(404, code=404, message="Session not found")
        if stop:
            state.sessions[str(session_id)] = "closed"
        return wrap(None)

    @app.post("/v1/sessions/keep-alive")
    async def keep_alive(request: Request) -> Response:
        return await session_op(request, stop=False)

    @app.post("/v1/sessions/stop")
    async def stop(request: Request) -> Response:
        return await session_op(request, stop=True)

    @app.post("/v1/secrets")
    async def secrets(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return _error(401, code=401, message="Invalid API key")
        if (
            not isinstance(body, dict)
            or body.get("secret_type") not in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY")
            or not body.get("secret_value")
            or not body.get("secret_name")
        ):
            return _error(422, detail="invalid secret")
        secret_id = state.next_id("la-secret-")
        state.objects[secret_id] = dict(body)
        return wrap({"id": secret_id, "secret_name": body["secret_name"]})

    @app.post("/v1/llm-configurations")
    async def llm_configurations(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return _error(401, code=401, message="Invalid API key")
        if not isinstance(body, dict) or body.get("secret_id") not in state.objects:
            return _error(400, code=400, message="Invalid secret")
        if not body.get("display_name") or not body.get("model_name"):
            return _error(422, detail="invalid configuration")
        config_id = state.next_id("la-llm-")
        state.objects[config_id] = dict(body)
        return wrap({"id": config_id, **body, "created_at": "2026-01-01T00:00:00Z"})

    return app


# --- Tavus CVI -----------------------------------------------------------------------


def tavus_app(state: VendorState) -> FastAPI:
    app = FastAPI()
    interactions = {
        "conversation.echo",
        "conversation.interrupt",
        "conversation.respond",
        "conversation.overwrite_llm_context",
    }

    def keyed(request: Request) -> bool:
        return request.headers.get("x-api-key") == TAVUS_KEY

    def invalid_key() -> JSONResponse:
        return _error(401, message="Invalid access token")

    @app.post("/v2/personas")
    async def personas(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return invalid_key()
        llm = body.get("layers", {}).get("llm", {}) if isinstance(body, dict) else {}
        if not all(isinstance(llm.get(key), str) and llm[key] for key in ("model", "base_url")):
            return _error(400, error="layers.llm needs model and base_url")
        persona_id = state.next_id("p")
        state.objects[persona_id] = dict(body)
        return JSONResponse(
            {
                "persona_id": persona_id,
                "persona_name": body.get("persona_name"),
                "created_at": "2026-01-01T00:00:00Z",
            }
        )

    @app.post("/v2/conversations")
    async def conversations(request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return invalid_key()
        if not isinstance(body, dict) or body.get("persona_id") not in state.objects:
            return _error(400, error="Invalid persona_id")
        properties = body.get("properties")
        if (
            not isinstance(body.get("replica_id"), str)
            or not isinstance(body.get("callback_url"), str)
            or not isinstance(properties, dict)
            or not isinstance(properties.get("max_call_duration"), int)
            or not isinstance(properties.get("participant_left_timeout"), int)
        ):
            return _error(400, error="Invalid conversation request")
        conversation_id = state.next_id("c")
        state.sessions[conversation_id] = "active"
        return JSONResponse(
            {
                "conversation_id": conversation_id,
                "conversation_name": body.get("conversation_name"),
                "conversation_url": f"https://tavus.daily.co/{conversation_id}",
                "status": "active",
                "callback_url": body["callback_url"],
                "created_at": "2026-01-01T00:00:00Z",
            }
        )

    @app.post("/v2/conversations/{conversation_id}/send-app-message")
    async def send_app_message(conversation_id: str, request: Request) -> Response:
        body, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return invalid_key()
        if conversation_id not in state.sessions:
            return _error(400, error="Invalid conversation_id")
        if state.sessions[conversation_id] == "ended":
            return _error(400, error="Conversation has ended")
        if (
            not isinstance(body, dict)
            or body.get("message_type") != "conversation"
            or body.get("event_type") not in interactions
            or body.get("conversation_id") != conversation_id
        ):
            return _error(400, error="Invalid interaction")
        if body["event_type"] == "conversation.echo" and not body.get("properties", {}).get("text"):
            return _error(400, error="conversation.echo needs properties.text")
        return JSONResponse({})

    @app.get("/v2/conversations/{conversation_id}")
    async def get_conversation(conversation_id: str, request: Request) -> Response:
        _, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return invalid_key()
        if conversation_id not in state.sessions:
            return _error(404, error="Conversation not found")
        return JSONResponse(
            {"conversation_id": conversation_id, "status": state.sessions[conversation_id]}
        )

    @app.post("/v2/conversations/{conversation_id}/end")
    async def end(conversation_id: str, request: Request) -> Response:
        _, failed = await _record(state, request)
        if failed:
            return failed
        if not keyed(request):
            return invalid_key()
        if conversation_id not in state.sessions:
            return _error(400, error="Invalid conversation_id")
        state.sessions[conversation_id] = "ended"
        return Response(status_code=200)

    return app

"""Local stand-ins for the coordinators' systems: a webhook receiver and an SMTP server.

Both listen on 127.0.0.1 on a free port, run in their own thread and record what they get.
The webhook receiver can be told to answer 500 a number of times, or to hang (so the sender
times out); the SMTP server can be told to refuse a number of messages with a temporary error
and to require a login.
"""

from __future__ import annotations

import asyncio
import email
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.loopback import LoopbackServer, free_port


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (blocking)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> bool:
    """Like ``wait_until`` but yields to the event loop between checks."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class WebhookReceiver:
    """A webhook endpoint at ``url`` that records every request it is sent."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.fail_times = 0
        self.hang = False
        self._lock = threading.Lock()
        self._released = threading.Event()
        app = Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])
        self._server = LoopbackServer(app, "webhook receiver", lifespan="off", access_log=False)
        self.port: int = self._server.port
        self.url = f"{self._server.url}/hook"

    async def _handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            hang = self.hang
            status = 200
            if not hang and self.fail_times > 0:
                self.fail_times -= 1
                status = 500
            self.requests.append(
                ReceivedRequest(
                    request.url.path,
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                    0 if hang else status,
                )
            )
        if hang:
            await asyncio.to_thread(self._released.wait, 30)
        return JSONResponse({"ok": status == 200}, status_code=status)

    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self.requests)

    def start(self) -> WebhookReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.stop(timeout=5)


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None


class _MailHandler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._server.lock:
            if self._server.fail_times > 0:
                self._server.fail_times -= 1
                return "451 4.3.0 Try again later"
            parsed = email.message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            auth = session.auth_data
            login = auth.decode() if isinstance(auth, bytes) else None
            self._server.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed, login)
            )
        return "250 OK"


class SmtpServer:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

    With ``credentials`` it offers AUTH PLAIN/LOGIN over the plain connection and accepts only
    that user name and password.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.messages: list[ReceivedMail] = []
        self.fail_times = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.host = "127.0.0.1"
        options: dict[str, Any] = {}
        if credentials is not None:
            options = {
                "authenticator": _Authenticator(*credentials),
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._controller = Controller(
            _MailHandler(self), hostname=self.host, port=self.port, **options
        )

    def received(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.messages)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self._username
            and auth_data.password == self._password
        )
        return AuthResult(success=ok, auth_data=auth_data.login if ok else None, handled=False)

"""A local SMS gateway speaking Twilio's Messages API, for tests.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth and the form fields ``To``,
``From``, ``Body``; it answers 201 with a message resource as Twilio does, 401 with Twilio's
error body on wrong credentials, and the scripted statuses in ``answers`` (one per request)
before that: a 5xx or 429 answers a server error body, a 4xx Twilio's invalid-number error
(21211, whose message quotes the number back, as Twilio's does).
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "gateway-token"


@dataclass(frozen=True)
class Sent:
    account: str
    form: dict[str, str]
    user: str
    password: str
    status: int
    at: float = 0.0
    """``time.monotonic()`` when the gateway received it."""


class SmsGateway:
    def __init__(self) -> None:
        self.requests: list[Sent] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self._messages, methods=["POST"])
            ]
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def _messages(self, request: Request) -> JSONResponse:
        sid = request.path_params["sid"]
        form = {k: str(v) for k, v in (await request.form()).items()}
        user, password = _basic(request.headers.get("authorization", ""))
        with self._lock:
            status = self.answers.pop(0) if self.answers else 201
            if status == 201 and (user != ACCOUNT_SID or password != AUTH_TOKEN or sid != user):
                status = 401
            self.requests.append(Sent(sid, form, user, password, status, time.monotonic()))
        if status == 201:
            return JSONResponse(
                {
                    "sid": "SM" + uuid.uuid4().hex,
                    "account_sid": sid,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                },
                status_code=201,
            )
        if status == 401:
            body = {"code": 20003, "message": "Authenticate", "status": 401}
        elif status >= 500 or status == 429:
            body = {"code": 20500, "message": "Internal Server Error", "status": status}
        else:
            body = {
                "code": 21211,
                "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                "status": status,
            }
        return JSONResponse(body, status_code=status)

    def sent(self) -> list[Sent]:
        with self._lock:
            return list(self.requests)

    def start(self) -> SmsGateway:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the SMS gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password

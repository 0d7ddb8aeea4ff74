"""An ASGI app served by uvicorn on a free 127.0.0.1 port, in a background thread.

Every fake vendor, webhook receiver and the app itself in the tests are served with this
one helper, so start-up waits, shutdown and port choice behave the same everywhere.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackServer:
    """``start()`` returns once uvicorn accepts connections; ``stop()`` waits for it to end.

    The socket is bound before the thread starts, so ``port`` and ``url`` are known at once
    and no other process can take the port in between.
    """

    def __init__(
        self,
        app: Any,
        name: str = "test server",
        *,
        make_config: Callable[[Any, int], uvicorn.Config] | None = None,
        ready_path: str | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        **config: Any,
    ) -> None:
        """``make_config(app, port)`` replaces the default uvicorn settings (the app's own);
        with ``ready_path`` start also waits until that path answers 200."""
        self.name = name
        self._ready_path = ready_path
        self._start_timeout_s = start_timeout_s
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        if make_config is not None:
            self.server = uvicorn.Server(make_config(app, self.port))
        else:
            options: dict[str, Any] = {"log_level": "warning", "timeout_graceful_shutdown": 1}
            options.update(config)
            self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout_s
        while not self._ready():
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01 if self._ready_path is None else 0.2)
        return self

    def _ready(self) -> bool:
        if not self.server.started or self._ready_path is None:
            return bool(self.server.started)
        try:
            return httpx.get(self.url + self._ready_path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

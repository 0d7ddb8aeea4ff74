"""Vendor fakes served by uvicorn on 127.0.0.1 in a background thread, one per test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from tests.avatar_bridge.providers.fake_vendors import (
    VendorState,
    heygen_app,
    liveavatar_app,
    tavus_app,
)

Serve = Callable[[FastAPI], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start an app on a free loopback port; returns its base URL. Stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake vendor server did not start")
            time.sleep(0.01)
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, _ in running:
        server.should_exit = True
    for _, thread in running:
        thread.join(timeout=5)


@pytest.fixture
def heygen(serve: Serve) -> Iterator[tuple[VendorState, str]]:
    state = VendorState()
    yield state, serve(heygen_app(state))
    state.release.set()


@pytest.fixture
def liveavatar(serve: Serve) -> Iterator[tuple[VendorState, str]]:
    state = VendorState()
    yield state, serve(liveavatar_app(state))
    state.release.set()


@pytest.fixture
def tavus(serve: Serve) -> Iterator[tuple[VendorState, str]]:
    state = VendorState()
    yield state, serve(tavus_app(state))
    state.release.set()

"""Vendor fakes served by uvicorn on 127.0.0.1 in a background thread, one per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from tests.avatar_bridge.providers.fake_vendors import (
    VendorState,
    heygen_app,
    liveavatar_app,
    tavus_app,
)
from tests.support.loopback import LoopbackServer

Serve = Callable[[FastAPI], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start an app on a free loopback port; returns its base URL. Stopped after the test."""
    running: list[LoopbackServer] = []

    def start(app: FastAPI) -> str:
        server = LoopbackServer(app, "fake vendor server", lifespan="off").start()
        running.append(server)
        return server.url

    yield start
    for server in running:
        server.stop(timeout=5)


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

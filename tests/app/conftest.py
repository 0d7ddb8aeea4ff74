"""The real app served over loopback, on the small test corpus, shared by a test session."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.channels.serving import uvicorn_config
from app.main import build_services, create_app
from app.services import Services
from app.settings import Settings
from tests.support.loopback import LoopbackServer

FIXTURES = Path(__file__).parents[1] / "fixtures"
PLATFORM_KEY = "test-platform-key"


@dataclass
class LiveApp:
    base_url: str
    services: Services
    coordinator_key: str
    clinician_key: str
    platform_key: str
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v1/voice"


def serve(settings: Settings, services: Services) -> LoopbackServer:
    """The app on loopback with its own server settings, started once /readyz answers."""
    return LoopbackServer(
        create_app(settings, services),
        "app",
        make_config=lambda app, port: uvicorn_config(app, settings, "127.0.0.1", port),
        ready_path="/readyz",
        start_timeout_s=600,  # a loaded machine loads the model slowly
    ).start()


TEST_LIMITS: dict[str, object] = {
    "rate_ask": "10000/minute",
    "rate_chat": "10000/minute",
    "rate_voice": "10000/minute",
    "rate_avatar": "10000/minute",
    "rate_auth_failures": "10000/minute",
    "voice_burst": 1000,
    "voice_refill_per_s": 1000.0,
}


def make_settings(root: Path, **overrides: object) -> Settings:
    corpus = root / "corpus"
    if not corpus.exists():
        shutil.copytree(FIXTURES / "corpus", corpus)
    values: dict[str, object] = {
        "data_dir": root / "data",
        "corpus_dir": corpus,
        "platform_keys": PLATFORM_KEY,
        "voice_ack_after_s": 5.0,
        # The shared app serves every test from one address: generous limits (the abuse
        # suite runs its own app with the defaults).
        "security": TEST_LIMITS,
        **overrides,
    }
    extra = overrides.get("security")
    if isinstance(extra, dict):  # a dict adds to the generous test limits; a model replaces
        values["security"] = {**TEST_LIMITS, **extra}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[LiveApp]:
    root = tmp_path_factory.mktemp("live")
    settings = make_settings(root)
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    _, coordinator_key = services.people.add_staff("Test coordinator", "coordinator")
    _, clinician_key = services.people.add_staff("Test clinician", "clinician")
    server = serve(settings, services)
    base = server.url
    yield LiveApp(base, services, coordinator_key, clinician_key, PLATFORM_KEY, settings)
    server.stop(timeout=30)


class Receiver:
    """A local webhook receiver on loopback: keeps every POST's headers and body."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], bytes]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append((dict(self.headers.items()), self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/digest"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


DIGEST_SECRET = "digest-secret"


@dataclass
class WorkspaceApp:
    """A live app of its own for the clinician workspace, whose corpus the tests change."""

    base_url: str
    services: Services
    settings: Settings
    clinician_key: str
    coordinator_key: str
    admin_key: str
    patient_key: str
    clinician_id: str
    digests: Receiver

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.clinician_key}"}


@pytest.fixture(scope="session")
def workspace_app(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> Iterator[WorkspaceApp]:
    root = tmp_path_factory.mktemp("workspace")
    digests = Receiver()
    settings = make_settings(
        root,
        workspace={
            "max_upload_bytes": 200_000,
            "digest_webhook_url": digests.url,
            "digest_webhook_secret": DIGEST_SECRET,
        },
    )
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    clinician, clinician_key = services.people.add_staff("Dr Ada Clinician", "clinician")
    _, coordinator_key = services.people.add_staff("Cora Coordinator", "coordinator")
    _, admin_key = services.people.add_staff("Adam Admin", "admin")
    _, patient_key = services.people.add_patient("patient-ws", "Mr Workspace")
    server = serve(settings, services)
    base = server.url
    yield WorkspaceApp(
        base,
        services,
        settings,
        clinician_key,
        coordinator_key,
        admin_key,
        patient_key,
        clinician.id,
        digests,
    )
    server.stop(timeout=30)
    digests.close()

"""HeyGen's and LiveAvatar's LiveKit rooms in the patient page: the vendored LiveKit
client, loaded from our own server with every other address blocked, joins the room the
avatar session API returned; when the room cannot be reached the page says so and keeps
answering with the browser voice.

The vendor is a local HeyGen or LiveAvatar stand-in; the LiveKit signalling socket is
intercepted in the browser (no LiveKit server can run here), which records the address the
client dialled.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Route, WebSocketRoute, expect
from pydantic import SecretStr

from app.channels.routers.pages import VENDORED, WEB_DIR
from app.main import build_services
from avatar_bridge.settings import AvatarSettings
from tests.app.conftest import make_settings, serve
from tests.app.test_pages import (  # noqa: F401  (fixtures)
    Watched,
    browser,
    playwright,
    watched,
)
from tests.avatar_bridge.providers.fake_vendors import (
    HEYGEN_KEY,
    LIVEAVATAR_KEY,
    VendorState,
    heygen_app,
    liveavatar_app,
)
from tests.support.loopback import LoopbackServer

LIVEKIT_DIR = WEB_DIR / "vendor" / "livekit-client"


@pytest.fixture(scope="module", params=["heygen", "liveavatar"])
def heygen_page(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: object,
) -> Iterator[str]:
    """The app with a HeyGen or a LiveAvatar stand-in: both hand the page a LiveKit room."""
    state = VendorState()
    if request.param == "heygen":
        vendor = LoopbackServer(heygen_app(state), "fake vendor").start()
        vendor_url = vendor.url
        avatar = AvatarSettings(
            provider="heygen",
            heygen_api_key=SecretStr(HEYGEN_KEY),
            heygen_base_url=vendor_url,
            heygen_avatar_id="avatar-1",
            request_timeout_s=2.0,
        )
    else:
        vendor = LoopbackServer(liveavatar_app(state), "fake vendor").start()
        vendor_url = vendor.url
        avatar = AvatarSettings(
            provider="liveavatar",
            liveavatar_api_key=SecretStr(LIVEAVATAR_KEY),
            liveavatar_base_url=vendor_url,
            liveavatar_avatar_id="avatar-uuid-1",
            request_timeout_s=2.0,
        )
    settings = make_settings(tmp_path_factory.mktemp("avatar-video"), avatar=avatar)
    services = build_services(settings)
    services.embedder = embedder  # type: ignore[assignment]
    server = serve(settings, services)
    base = server.url
    yield base
    server.stop(timeout=30)
    vendor.stop()


def offline(page: Page, base: str) -> list[str]:
    """Block every address but the app's own; returns the blocked ones."""
    blocked: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    return blocked


def test_the_vendored_client_is_the_pinned_release_with_its_licence() -> None:
    readme = (LIVEKIT_DIR / "README.md").read_text()
    pinned = re.search(r"sha256 of livekit-client.umd.js: `([0-9a-f]{64})`", readme)
    assert pinned is not None
    served = WEB_DIR / VENDORED["livekit-client.umd.js"]
    assert hashlib.sha256(served.read_bytes()).hexdigest() == pinned.group(1)
    assert "Apache License" in (LIVEKIT_DIR / "LICENSE").read_text()
    assert "livekit-client 2.23.0" in readme


def test_the_client_is_served_from_our_own_server(heygen_page: str) -> None:
    response = httpx.get(heygen_page + "/static/livekit-client.umd.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == (WEB_DIR / VENDORED["livekit-client.umd.js"]).read_bytes()
    # Only the vendored file: nothing else in the folder is reachable.
    for name in ("LICENSE", "README.md", "vendor/livekit-client/LICENSE", "livekit-client.js"):
        assert httpx.get(f"{heygen_page}/static/{name}").status_code == 404


def test_the_page_joins_the_sessions_room_and_falls_back_to_voice_when_it_fails(
    watched: Watched,  # noqa: F811 (the imported fixture)
    heygen_page: str,
) -> None:
    page = watched.page
    blocked = offline(page, heygen_page)
    dialled: list[str] = []

    def signalling(ws: WebSocketRoute) -> None:
        dialled.append(ws.url)
        ws.close(code=1011, reason="no LiveKit server here")

    page.route_web_socket(re.compile(r"^wss://[a-z]+\.livekit\.example/.*"), signalling)
    loaded: list[str] = []
    page.on(
        "response",
        lambda response: loaded.append(response.url) if "livekit" in response.url else None,
    )
    sessions: list[dict[str, object]] = []
    page.on(
        "response",
        lambda response: (
            sessions.append(response.json())
            if response.url.endswith("/v1/avatar/session") and response.request.method == "POST"
            else None
        ),
    )

    page.goto(heygen_page + "/")
    avatar = page.locator("#avatar")
    expect(avatar).to_have_attribute("data-video", "failed", timeout=30_000)
    expect(page.locator("#avatar-text")).to_have_text(
        "The video could not connect. Your answers are shown here and read aloud."
    )

    # The vendored client (from our server, nothing from a CDN) dialled the room the avatar
    # session API returned, with that session's token.
    assert loaded and all(url.startswith(heygen_page) for url in loaded), loaded
    assert page.evaluate("() => typeof window.LivekitClient.Room") == "function"
    assert page.evaluate("() => window.LivekitClient.version") == "2.23.0"
    [session] = sessions
    client = session["avatar"]["client"]  # type: ignore[index]
    assert client["transport"] == "livekit"
    room = str(client["livekit_url"])
    assert dialled, "the LiveKit client never dialled the room"
    assert dialled[0].startswith(room + "/rtc")
    assert f"access_token={client['access_token']}" in dialled[0]
    assert not [url for url in blocked if ".livekit.example" not in url], blocked

    # Voice fallback: the conversation still works, answered in the page.
    expect(page.locator("body")).to_have_attribute("data-connection", "open")
    page.get_by_label("Type your question").fill("When can I drive again?")
    page.get_by_role("button", name="Ask", exact=True).click()
    turn = page.locator("#conversation > li.turn").last
    expect(turn.locator(".answer-text")).not_to_be_empty(timeout=30_000)
    assert page.evaluate("() => document.querySelector('#avatar-frame video') === null")


def test_no_livekit_client_is_loaded_without_a_room(
    watched: Watched,  # noqa: F811 (the imported fixture)
    heygen_page: str,
) -> None:
    # A plain page load with the vendor refusing sessions never fetches the 600 kB client.
    page = watched.page
    offline(page, heygen_page)
    page.route(
        re.compile(r".*/v1/avatar/session$"),
        lambda route: route.fulfill(json={"avatar": None, "voice": "browser"}),
    )
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    page.goto(heygen_page + "/")
    expect(page.locator("body")).to_have_attribute("data-connection", "open")
    assert not [url for url in loaded if "livekit" in url]
    assert page.evaluate("() => typeof window.LivekitClient") == "undefined"

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from avatar_bridge.errors import AvatarConfigError, AvatarSessionError
from avatar_bridge.providers import (
    AvatarProvider,
    BrowserProvider,
    HeyGenProvider,
    LiveAvatarProvider,
    TavusProvider,
    build_provider,
)
from avatar_bridge.settings import AvatarSettings

COMPLETE = AvatarSettings(
    heygen_api_key=SecretStr("h"),
    heygen_avatar_id="a",
    liveavatar_api_key=SecretStr("l"),
    liveavatar_avatar_id="a",
    tavus_api_key=SecretStr("t"),
    tavus_replica_id="r",
    public_base_url="https://aftercare.example",
    vendor_llm_key=SecretStr("k"),
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("browser", BrowserProvider),
        ("heygen", HeyGenProvider),
        ("liveavatar", LiveAvatarProvider),
        ("tavus", TavusProvider),
    ],
)
async def test_builds_the_named_provider(
    name: str, kind: type[object], client: httpx.AsyncClient
) -> None:
    provider = build_provider(COMPLETE.model_copy(update={"provider": name}), client)
    assert isinstance(provider, kind)
    assert isinstance(provider, AvatarProvider)
    assert provider.name == name


async def test_default_is_the_browser_voice(client: httpx.AsyncClient) -> None:
    assert isinstance(build_provider(AvatarSettings(), client), BrowserProvider)


@pytest.mark.parametrize("name", ["heygen", "liveavatar", "tavus"])
async def test_vendor_without_settings_is_a_config_error(
    name: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(AvatarConfigError):
        build_provider(AvatarSettings.model_validate({"provider": name}), client)


async def test_browser_sessions_are_spoken_by_the_page() -> None:
    ids = iter(["s1", "s2"])
    provider = BrowserProvider(new_id=lambda: next(ids))
    session = await provider.start_session("patient-1")
    assert (session.session_id, session.client, session.speaks_itself) == ("s1", {}, False)
    assert session.keepalive_s is None
    await provider.speak(session, "Hello.")
    await provider.interrupt(session)
    await provider.keep_alive(session)
    await provider.close(session)
    with pytest.raises(AvatarSessionError):
        await provider.speak(session, "Hello again.")


async def test_a_session_of_another_provider_is_refused(client: httpx.AsyncClient) -> None:
    browser_session = await BrowserProvider().start_session(None)
    heygen = build_provider(COMPLETE.model_copy(update={"provider": "heygen"}), client)
    with pytest.raises(AvatarSessionError, match="belongs to the browser avatar"):
        await heygen.speak(browser_session, "Hello.")

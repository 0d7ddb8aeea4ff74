"""Picks the avatar provider named in the settings."""

from __future__ import annotations

import httpx

from avatar_bridge.providers.base import AvatarProvider
from avatar_bridge.providers.browser import BrowserProvider
from avatar_bridge.providers.heygen import HeyGenProvider
from avatar_bridge.providers.liveavatar import LiveAvatarProvider
from avatar_bridge.providers.tavus import TavusProvider
from avatar_bridge.settings import AvatarSettings


def build_provider(settings: AvatarSettings, client: httpx.AsyncClient) -> AvatarProvider:
    """The configured provider; raises AvatarConfigError when its settings are incomplete."""
    match settings.provider:
        case "browser":
            return BrowserProvider()
        case "heygen":
            return HeyGenProvider(settings, client)
        case "liveavatar":
            return LiveAvatarProvider(settings, client)
        case "tavus":
            return TavusProvider(settings, client)

"""Avatar platforms behind one protocol: the browser's own voice, HeyGen, LiveAvatar, Tavus."""

from avatar_bridge.providers.base import AvatarEvent, AvatarProvider, AvatarSession
from avatar_bridge.providers.browser import BrowserProvider
from avatar_bridge.providers.factory import build_provider
from avatar_bridge.providers.heygen import HeyGenProvider
from avatar_bridge.providers.liveavatar import (
    LiveAvatarProvider,
    interrupt_command,
    speak_command,
)
from avatar_bridge.providers.tavus import (
    TavusProvider,
    parse_tavus_callback,
    patient_ref_from_context,
)

__all__ = [
    "AvatarEvent",
    "AvatarProvider",
    "AvatarSession",
    "BrowserProvider",
    "HeyGenProvider",
    "LiveAvatarProvider",
    "TavusProvider",
    "build_provider",
    "interrupt_command",
    "parse_tavus_callback",
    "patient_ref_from_context",
    "speak_command",
]

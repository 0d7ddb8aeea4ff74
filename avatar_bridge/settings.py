"""The avatar bridge's section of the settings (``AFTERCARE_AVATAR__...``)."""

from typing import Literal

from pydantic import BaseModel

ProviderName = Literal["browser", "heygen", "liveavatar", "tavus"]


class AvatarSettings(BaseModel):
    provider: ProviderName = "browser"

"""Who is calling: bearer keys read safely, platform keys by id, the caller's address.

``authenticate_platform`` is the one function every platform route calls, whatever header
or parameter the platform sends its key in; it audits failures and rate-limits them per
address.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from app.errors import NotAuthenticatedError
from app.services import Services
from app.settings import PlatformKey

MAX_KEY_CHARS = 512


def clean_key(value: str | None) -> str | None:
    """A presented key if it looks like one (printable ASCII, not too long), else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_KEY_CHARS:
        return None
    if not all("!" <= ch <= "~" for ch in value):
        return None
    return value


def bearer_key(header: str | None) -> str | None:
    """The key in ``Authorization: Bearer <key>``; None for anything malformed."""
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return clean_key(key)


@dataclass(frozen=True)
class PlatformCaller:
    id: str

    @property
    def actor(self) -> str:
        return f"platform:{self.id}"


def platform_for_key(keys: list[PlatformKey], presented: str | None) -> PlatformCaller | None:
    """The platform whose key this is, compared in constant time against every key."""
    key = clean_key(presented)
    if key is None:
        return None
    found: PlatformCaller | None = None
    encoded = key.encode("ascii")
    for entry in keys:
        if hmac.compare_digest(encoded, entry.key.get_secret_value().encode("utf-8")):
            found = PlatformCaller(entry.id)
    return found


def authenticate_platform(
    services: Services, presented: str | None, source: str | None
) -> PlatformCaller:
    """The calling platform, or ``NotAuthenticatedError`` (audited, rate-limited per address).

    ``presented`` is the key as the platform sent it (Authorization bearer, ``x-api-key``,
    a ``key`` query parameter on a socket ...); ``source`` is the client address.
    """
    services.limits.refuse_if_over("auth_failures", source)
    caller = platform_for_key(services.settings.platform_keys, presented)
    if caller is None:
        services.people.audit(
            "unknown", "platform.auth", "platform", None, "bad key", "denied", source=source
        )
        services.limits.hit("auth_failures", source)
        raise NotAuthenticatedError("Invalid or missing API key.")
    return caller

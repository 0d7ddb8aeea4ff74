"""Rate limits per client address and per key, with the `limits` library (in memory).

One ``RateLimits`` per deployment. ``hit`` counts one request against every identity given
(an address, a key id, a patient) and answers how long to wait when any of them is over its
limit. Counters live in this process: one serving process per deployment (the embedded
index already requires it).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.errors import RateLimitedError


class RateLimits:
    def __init__(self, rates: dict[str, str]) -> None:
        self._items: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in rates.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, scope: str, *identities: str | None) -> float | None:
        """Count one request; the seconds to wait if it is over a limit, else None."""
        item = self._items[scope]
        wait = 0.0
        for identity in identities:
            if identity is None:
                continue
            if not self._limiter.hit(item, scope, identity):
                reset = self._limiter.get_window_stats(item, scope, identity).reset_time
                wait = max(wait, reset - time.time(), 1.0)
        return wait or None

    def check(self, scope: str, *identities: str | None) -> None:
        """``hit``, raising ``RateLimitedError`` (429 with Retry-After) when over."""
        wait = self.hit(scope, *identities)
        if wait is not None:
            raise RateLimitedError(f"too many requests; try again in {math.ceil(wait)} s", wait)

    def refuse_if_over(self, scope: str, *identities: str | None) -> None:
        """Raise ``RateLimitedError`` if any identity is already at its limit (counts nothing)."""
        wait = self.over(scope, *identities)
        if wait is not None:
            raise RateLimitedError(f"too many attempts; try again in {math.ceil(wait)} s", wait)

    def over(self, scope: str, *identities: str | None) -> float | None:
        """How long to wait if any identity is already at its limit (counts nothing)."""
        item = self._items[scope]
        wait = 0.0
        for identity in identities:
            if identity is None:
                continue
            if not self._limiter.test(item, scope, identity):
                reset = self._limiter.get_window_stats(item, scope, identity).reset_time
                wait = max(wait, reset - time.time(), 1.0)
        return wait or None


class TokenBucket:
    """Messages one socket may send: ``burst`` at once, then ``per_s`` a second."""

    def __init__(self, burst: int, per_s: float) -> None:
        self._burst = float(burst)
        self._per_s = per_s
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

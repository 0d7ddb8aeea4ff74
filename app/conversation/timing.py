"""How long each step of a turn took, in milliseconds, for the result and the metrics."""

from __future__ import annotations

import time

from app.operations.tracing import NO_TRACE, TurnTrace


class TurnTimer:
    """Milliseconds per step of one turn, and the trace its steps are spans of."""

    def __init__(self, trace: TurnTrace = NO_TRACE) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.trace = trace

    def mark(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = round((now - since) * 1000, 3)
        return now

    def first_sentence(self) -> None:
        self.timings.setdefault(
            "first_sentence", round((time.perf_counter() - self.start) * 1000, 3)
        )

    def total(self) -> dict[str, float]:
        self.timings["total"] = round((time.perf_counter() - self.start) * 1000, 3)
        return self.timings

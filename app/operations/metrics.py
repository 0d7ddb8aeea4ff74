"""Prometheus metrics of one deployment, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from app.conversation.turn import TurnResult

_BUCKETS_MS = (1, 2.5, 5, 10, 20, 40, 75, 150, 300, 600, 1200, 2500, 5000, 10000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "aftercare_turns",
            "Patient turns by outcome and channel",
            ["outcome", "channel"],
            registry=self.registry,
        )
        self.step_ms = Histogram(
            "aftercare_turn_step_milliseconds",
            "Time per step of a turn",
            ["step"],
            buckets=_BUCKETS_MS,
            registry=self.registry,
        )
        self.composer_fallbacks = Counter(
            "aftercare_composer_fallbacks",
            "Generated answers replaced by extractive ones",
            ["reason"],
            registry=self.registry,
        )
        self.avatar_failures = Counter(
            "aftercare_avatar_failures",
            "Avatar vendor calls that failed",
            ["provider", "operation"],
            registry=self.registry,
        )
        self.turns_in_flight = Gauge(
            "aftercare_voice_turns_in_flight",
            "Voice turns running now",
            registry=self.registry,
        )
        self.cancelled_turns = Counter(
            "aftercare_turns_cancelled",
            "Turns cancelled by an interruption",
            ["channel"],
            registry=self.registry,
        )

    def observe(self, result: TurnResult, channel: str) -> None:
        self.turns.labels(result.outcome, channel).inc()
        for step, ms in result.timings_ms.items():
            self.step_ms.labels(step).observe(ms)

    def observe_step(self, step: str, ms: float) -> None:
        self.step_ms.labels(step).observe(ms)

    def render(self) -> bytes:
        return generate_latest(self.registry)

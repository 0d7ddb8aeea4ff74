"""Prometheus metrics of one deployment, on a registry of its own (no global state).

A private registry lets several deployments live in one process (the tests do), but it
does not get the process, platform and GC collectors that prometheus_client registers on
its global registry only; they are added here. Durations are in seconds. Per-route HTTP
metrics come from prometheus-fastapi-instrumentator (``instrument``); service levels are
read from the database at scrape time (``app.operations.service_levels``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from app.conversation.turn import TurnResult

if TYPE_CHECKING:
    from fastapi import FastAPI

_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.075, 0.15, 0.3, 0.6, 1.2, 2.5, 5.0, 10.0
)  # fmt: skip
_HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Probes and scrapes would drown the routes that matter.
_UNMEASURED_ROUTES = ["/healthz", "/readyz", "/metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.turns = Counter(
            "aftercare_turns",
            "Patient turns by outcome and channel",
            ["outcome", "channel"],
            registry=self.registry,
        )
        self.step_s = Histogram(
            "aftercare_turn_step_seconds",
            "Time per step of a turn",
            ["step"],
            buckets=_BUCKETS_S,
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
            self.step_s.labels(step).observe(ms / 1000)

    def observe_step(self, step: str, ms: float) -> None:
        self.step_s.labels(step).observe(ms / 1000)

    def instrument(self, app: FastAPI) -> None:
        """Per-route request counts, sizes and durations (route templates, not paths)."""
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator(
            should_group_status_codes=True,
            should_group_untemplated=True,
            excluded_handlers=_UNMEASURED_ROUTES,
            registry=self.registry,
        ).instrument(app, latency_lowr_buckets=_HTTP_BUCKETS_S)

    def render(self) -> bytes:
        return generate_latest(self.registry)

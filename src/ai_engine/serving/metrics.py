"""The service's Prometheus metrics (one registry per app) and its logger's name: the data
plane's objects count into them; the web layer exports them at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ai_engine.engine import Engine

LOGGER_NAME = "ai_engine.service"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "ai_engine_request_duration_seconds",
            "Request latency by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "ai_engine_requests",
            "Requests by route and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.signals = Counter(
            "ai_engine_signals", "Signals answered, by action.", ["action"], registry=r
        )
        self.refusals = Counter(
            "ai_engine_consensus_refusals",
            "Requests refused: fewer healthy members than the quorum.",
            registry=r,
        )
        self.member_healthy = Gauge(
            "ai_engine_member_healthy",
            "1 when a member of the served release loaded healthy, else 0.",
            ["release", "family", "version"],
            registry=r,
        )
        self.reloads = Counter(
            "ai_engine_reloads",
            "Release reloads by outcome (ok, failed).",
            ["outcome", "trigger"],
            registry=r,
        )
        self.batch_size = Histogram(
            "ai_engine_batch_size",
            "Requests answered by one predict call per model (micro-batching).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.windows = Counter(
            "ai_engine_window_cache",
            "Candle windows looked up in the window cache, by result (hit: features and "
            "forecasts reused; miss: computed).",
            ["result"],
            registry=r,
        )
        self._window_results = (self.windows.labels("miss"), self.windows.labels("hit"))
        self.ready = Gauge(
            "ai_engine_ready", "1 while the served release reaches consensus.", registry=r
        )
        self.release_info = Gauge(
            "ai_engine_release_info", "1 for the release being served.", ["release"], registry=r
        )
        for outcome in ("ok", "failed"):
            self.reloads.labels(outcome, "api")
        for action in ("BUY", "SELL", "HOLD"):
            self.signals.labels(action)

    def window_seen(self, hit: bool) -> None:
        """Count one window-cache lookup."""
        self._window_results[hit].inc()

    def served(self, engine: Engine | None) -> None:
        """Point the release and member-health gauges at ``engine``."""
        self.member_healthy.clear()
        self.release_info.clear()
        if engine is None:
            return
        self.release_info.labels(engine.release.id).set(1)
        for member in engine.members:
            self.member_healthy.labels(engine.release.id, member.family, member.version).set(
                1 if member.healthy else 0
            )

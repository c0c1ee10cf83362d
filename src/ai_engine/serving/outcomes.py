"""Pending forecasts per (symbol, timeframe), scored once later candles reveal the outcome.

A forecast made at bar ``as_of`` for the decision horizon ``h`` is the cumulative log return
``log(close[t+h] / close[t])`` (the training target, positional in bars). When a later request's
candles hold the bar ``as_of`` and ``h`` bars after it, the realised return is known: the
forecast's absolute error and the zero forecast's (``|realised|``) go to Prometheus. Memory is
bounded: at most ``cap`` bars are pending per symbol; the oldest are dropped beyond it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ai_engine.data import Candles

ERROR_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
"""Absolute errors of log returns: 5 bp to 50 %."""


@dataclass(frozen=True)
class Forecast:
    """One release's expected return at its decision horizon for one bar."""

    role: str
    release: str
    horizon: int
    expected: float


@dataclass(frozen=True)
class Scored:
    """A forecast whose outcome is known: the realised return and both absolute errors."""

    forecast: Forecast
    realised: float
    error: float
    zero_error: float


class OutcomeMetrics:
    """The realised-error metrics, registered in the service's metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.abs_error = Histogram(
            "ai_engine_realised_abs_error",
            "Absolute error of a forecast's expected log return at its decision horizon, once "
            "realised; forecast=model (the release's) or zero (the zero forecast's, same bars).",
            ["release", "role", "forecast"],
            buckets=ERROR_BUCKETS,
            registry=registry,
        )
        self.scored = Counter(
            "ai_engine_scored_forecasts",
            "Forecasts whose outcome became known and was scored, by release and role.",
            ["release", "role"],
            registry=registry,
        )
        self.pending = Gauge(
            "ai_engine_pending_forecasts",
            "Bars with forecasts waiting for their outcome, all symbols together.",
            registry=registry,
        )
        self.evicted = Counter(
            "ai_engine_pending_evicted",
            "Pending bars dropped unscored (over the per-symbol cap).",
            registry=registry,
        )

    def summary(self) -> list[dict[str, Any]]:
        """Per (release, role): forecasts scored and the mean absolute error of the model's
        and of the zero forecast's, read from the histograms (the operator page's table)."""
        totals: dict[tuple[str, str], dict[str, float]] = {}
        for metric in self.abs_error.collect():
            for sample in metric.samples:
                if not sample.name.endswith(("_sum", "_count")):
                    continue
                key = (sample.labels["release"], sample.labels["role"])
                part = sample.labels["forecast"] + sample.name[sample.name.rfind("_") :]
                totals.setdefault(key, {})[part] = sample.value
        return [
            {
                "release": release,
                "role": role,
                "scored": int(v.get("model_count", 0)),
                "mae": v["model_sum"] / v["model_count"] if v.get("model_count") else None,
                "zero_mae": v["zero_sum"] / v["zero_count"] if v.get("zero_count") else None,
            }
            for (release, role), v in sorted(totals.items())
        ]

    def record(self, scored: list[Scored]) -> None:
        """Observe each scored forecast's errors and count it."""
        for item in scored:
            labels = (item.forecast.release, item.forecast.role)
            self.abs_error.labels(*labels, "model").observe(item.error)
            self.abs_error.labels(*labels, "zero").observe(item.zero_error)
            self.scored.labels(*labels).inc()


class OutcomeBook:
    """Forecasts waiting for their outcome, per (symbol, timeframe) and bar; thread-safe."""

    def __init__(self, cap: int, metrics: OutcomeMetrics | None = None) -> None:
        self.cap = cap
        self.metrics = metrics
        self._pending: dict[tuple[str, str], OrderedDict[int, list[Forecast]]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(bars) for bars in self._pending.values())

    def add(self, symbol: str, timeframe: str, as_of_ns: int, forecasts: list[Forecast]) -> None:
        """Keep ``forecasts`` for bar ``as_of_ns``; a (role, release) already kept is not
        replaced (a repeated request for the same bar scores once)."""
        with self._lock:
            bars = self._pending.setdefault((symbol, timeframe), OrderedDict())
            kept = bars.setdefault(as_of_ns, [])
            seen = {(f.role, f.release) for f in kept}
            kept.extend(f for f in forecasts if (f.role, f.release) not in seen)
            evicted = 0
            while len(bars) > self.cap:
                bars.popitem(last=False)
                evicted += 1
        if self.metrics is not None and evicted:
            self.metrics.evicted.inc(evicted)

    def score(self, candles: Candles) -> list[Scored]:
        """Score every pending forecast of the candles' symbol whose outcome they reveal;
        those are recorded in the metrics and forgotten."""
        key = (candles.symbol, candles.timeframe)
        index = candles.times_ns
        close = np.asarray(candles.close, dtype=float)
        scored: list[Scored] = []
        with self._lock:
            bars = self._pending.get(key)
            if not bars or len(index) == 0:
                return []
            done: list[int] = []
            for as_of_ns, forecasts in bars.items():
                pos = int(np.searchsorted(index, as_of_ns))
                if pos >= len(index) or index[pos] != as_of_ns:
                    continue
                left = [f for f in forecasts if pos + f.horizon >= len(index)]
                for f in forecasts:
                    if pos + f.horizon < len(index):
                        realised = float(np.log(close[pos + f.horizon] / close[pos]))
                        scored.append(
                            Scored(f, realised, abs(f.expected - realised), abs(realised))
                        )
                forecasts[:] = left
                if not left:
                    done.append(as_of_ns)
            for as_of_ns in done:
                del bars[as_of_ns]
        if self.metrics is not None:
            self.metrics.record(scored)
        return scored

    def update_gauge(self) -> None:
        """Set the pending gauge to the bars kept now."""
        if self.metrics is not None:
            self.metrics.pending.set(len(self))

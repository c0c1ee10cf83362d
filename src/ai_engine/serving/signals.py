"""The data plane: the one place a signal or forecast is made for candles (KServe's DataPlane
pattern). The service's v1, v2 and stream routes, risk proposals, the operator page, the CLI,
freqtrade (replay and live) and the retraining gate all call it, so they can never disagree
about which series answers a symbol or which gates apply.

``route`` picks the series' engine (``Router``); ``signal`` / ``forecast`` answer with the same
gates everywhere (quorum, out-of-distribution input, no edge, and stale candles judged against
the wall clock unless ``stale_check`` is off). Observers (metrics, the operator page's recent
signals and windows, the shadow) see every signal made, after it is made; they never change it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ai_engine.contract import stamp
from ai_engine.data import Candles
from ai_engine.engine import Engine
from ai_engine.ensemble import MemberForecast, Signal
from ai_engine.serving.router import Router

Observer = Callable[[dict[str, Any], Candles], None]
"""Called with each signal (JSON form) and the candles it was made from."""


class Signals:
    """Route a series, make its signal or forecast, tell the observers."""

    def __init__(self, router: Router, *, batcher: Any = None, stale_check: bool = True) -> None:
        self.router = router
        self.batcher = batcher
        """A ``ForecastBatcher`` (the service) or None (one process: members predict at once)."""
        self.stale_check = stale_check
        self.observers: list[Observer] = []

    # ---- routing -----------------------------------------------------------------------
    def route(self, symbol: str, timeframe: str, release: str | None = None) -> Engine:
        """The series' engine (blocking); NotFound listing what is covered."""
        return self.router.route(symbol, timeframe, release)

    async def route_async(self, symbol: str, timeframe: str, release: str | None = None) -> Engine:
        """``route`` without blocking the event loop: the served release's view at once, any
        registry read or load in a worker thread."""
        if release is None:
            view = self.router.served(symbol, timeframe)
            if view is not None:
                return view
        else:
            cached = self.router.source.cached_engine(release)
            if cached is not None:
                return self.router.route(symbol, timeframe, release)
        return await asyncio.to_thread(self.router.route, symbol, timeframe, release)

    # ---- answers -----------------------------------------------------------------------
    def now(self) -> datetime | None:
        return datetime.now(UTC) if self.stale_check else None

    async def signal(
        self,
        engine: Engine,
        candles: Candles,
        digest: bytes | None = None,
        *,
        remember: bool = True,
    ) -> dict[str, Any]:
        """The Signal (JSON) of ``candles`` from ``engine``; ConsensusError below the quorum.
        ``remember``: keep the window's forecasts for its next arrival (not for the stream)."""
        engine.check_consensus()
        computed = await self.batcher.window_forecasts(engine, candles, digest, remember=remember)
        inputs, forecasts, memo = computed
        signal = engine.signal_from(candles, forecasts, inputs, self.now(), memo).to_json()
        self.notify(signal, candles)
        return signal

    def signal_now(self, candles: Candles, release: str | None = None) -> tuple[Engine, Signal]:
        """Route ``candles`` and make their Signal in this thread (CLI, freqtrade)."""
        engine = self.route(candles.symbol, candles.timeframe, release)
        return engine, self.signal_of(engine, candles)

    def signal_of(self, engine: Engine, candles: Candles) -> Signal:
        """The Signal of ``candles`` from an engine already routed, in this thread (the
        members predict at once, no batcher); ConsensusError below the quorum."""
        signal = engine.signal(candles, self.now())
        self.notify(signal.to_json(), candles)
        return signal

    async def forecast(
        self, engine: Engine, candles: Candles, digest: bytes | None = None
    ) -> dict[str, Any]:
        """Every member's forecast and the weighted one ``(horizon,)``; ConsensusError below
        the quorum."""
        engine.check_consensus()
        forecasts = (await self.batcher.window_forecasts(engine, candles, digest))[1]
        forecasts, weights, combined = engine.weighted_forecasts(candles, forecasts)
        as_of = candles.last_bar.isoformat()
        hashes = engine.bundle_hashes
        return {
            "symbol": candles.symbol,
            "timeframe": candles.timeframe,
            "as_of": as_of,
            "horizon": engine.settings.decision_horizon,
            "release": engine.release.id,
            "forecast": [float(v) for v in combined],
            "members": [_member_json(m, weights, hashes) for m in forecasts],
            **stamp(as_of, candles.timeframe or engine.release.timeframe),
        }

    def notify(self, signal: dict[str, Any], candles: Candles) -> None:
        for observer in self.observers:
            observer(signal, candles)


def _member_json(
    member: MemberForecast, weights: dict[str, float], hashes: dict[str, str]
) -> dict[str, Any]:
    return {
        "family": member.family,
        "version": member.version,
        "forecast": None if member.forecast is None else [float(v) for v in member.forecast],
        "weight": weights.get(member.family, 0.0),
        "healthy": member.healthy,
        "reason": member.reason,
        "bundle_sha256": hashes.get(member.family),
    }

"""What the operator page shows of this process's signals: the newest signals and, per symbol,
the newest candle window (an observer of ``Signals``; read by the web layer's /ui)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from ai_engine.data import Candles

RECENT_SIGNALS = 20
WINDOW_BARS = 60
"""Bars of each symbol's newest window kept for its chart."""


class RecentSignals:
    """The newest ``RECENT_SIGNALS`` signals and each symbol's newest ``WINDOW_BARS`` candles."""

    def __init__(self, signals: int = RECENT_SIGNALS, bars: int = WINDOW_BARS) -> None:
        self.bars = bars
        self._signals: deque[dict[str, Any]] = deque(maxlen=signals)
        self._candles: dict[str, Candles] = {}
        self._lock = threading.Lock()

    def __call__(self, signal: dict[str, Any], candles: Candles) -> None:
        """Keep the signal and its candles as they are (O(1) on the request path; the window
        is cut and converted only when the page reads it)."""
        with self._lock:
            self._signals.appendleft(signal)
            self._candles[candles.symbol] = candles

    def signals(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return list(self._signals)

    def windows(self) -> dict[str, dict[str, Any]]:
        """Per symbol: ``times`` (epoch s), ``ohlc`` (open, high, low, close), ``timeframe``
        of its newest ``bars`` candles."""
        with self._lock:
            kept = dict(self._candles)
        return {symbol: self._window(candles) for symbol, candles in kept.items()}

    def _window(self, candles: Candles) -> dict[str, Any]:
        frame = candles.frame.iloc[-self.bars :]
        columns = [frame[name].tolist() for name in ("open", "high", "low", "close")]
        return {
            "times": (frame.index.asi8 / 1e9).tolist(),
            "ohlc": list(zip(*columns, strict=True)),
            "timeframe": candles.timeframe,
        }

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
        self._windows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, signal: dict[str, Any], candles: Candles) -> None:
        frame = candles.frame.iloc[-self.bars :]
        window = {
            "times": [ts.timestamp() for ts in frame.index],
            "ohlc": list(
                zip(
                    frame["open"].tolist(),
                    frame["high"].tolist(),
                    frame["low"].tolist(),
                    frame["close"].tolist(),
                    strict=True,
                )
            ),
            "timeframe": candles.timeframe,
        }
        with self._lock:
            self._signals.appendleft(signal)
            self._windows[candles.symbol] = window

    def signals(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return list(self._signals)

    def windows(self) -> dict[str, dict[str, Any]]:
        """Per symbol: ``times`` (epoch s), ``ohlc`` (open, high, low, close), ``timeframe``."""
        with self._lock:
            return dict(self._windows)

"""Per-(symbol, timeframe) candle windows kept by the server for POST /v1/stream.

A window starts from a full window (at least the release's ``required_candles``) and keeps
that many candles (its capacity), sliding as new candles arrive, so a streamed signal equals
the stateless /v1/signal of the same candles. A new candle must be the next bar exactly: a gap,
a duplicate or an earlier candle is a ``StreamConflict`` (409) saying which candle was
expected. Windows live in this process only (lost on restart, not shared between workers);
the least recently used ones are dropped beyond ``max_streams``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ai_engine.candle_arrays import NS_PER_DAY, rows_ok
from ai_engine.data import Candles, timeframe_delta
from ai_engine.errors import StreamConflict

MAX_STREAMS = 4096
"""Windows kept per process (about 12 KB each at 256 candles)."""


@dataclass(frozen=True)
class Window:
    """Validated candles: int64 epoch-ns ``times`` ``(n,)``, OHLCV ``values`` ``(n, 5)``."""

    times: np.ndarray
    values: np.ndarray
    business_days: bool
    """daily candles without weekend bars: the next bar is the next business day"""

    def candles(self, symbol: str, timeframe: str) -> Candles:
        return Candles(None, symbol, timeframe, arrays=(self.times, self.values))


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()


def next_times(window: Window, timeframe: str, count: int) -> np.ndarray:
    """The epoch-ns times of the ``count`` bars after the window's last."""
    last = int(window.times[-1])
    if window.business_days:
        day = np.datetime64(last // NS_PER_DAY, "D")
        days = np.busday_offset(day, np.arange(1, count + 1), roll="forward")
        return days.astype(np.int64) * NS_PER_DAY + last % NS_PER_DAY
    step = timeframe_delta(timeframe).value
    return last + step * np.arange(1, count + 1, dtype=np.int64)


def full_window(times: np.ndarray, values: np.ndarray, timeframe: str) -> Window:
    """A window over already validated candles."""
    days = times // NS_PER_DAY
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    daily = timeframe_delta(timeframe).value == NS_PER_DAY
    return Window(times, values, bool(daily and not (weekday >= 5).any()))


def conflict(
    window: Window,
    key: tuple[str, str],
    found: np.ndarray,
    expected: np.ndarray,
    at: int,
    loc: list[str | int],
    required: int,
) -> StreamConflict:
    """The 409 for the first new candle that is not the next bar."""
    symbol, timeframe = key
    last = int(window.times[-1])
    got, want = int(found[at]), int(expected[at])
    if got <= last:
        what = "a duplicate of the window's last candle" if got == last else "an earlier candle"
    elif got < want:
        what = f"a candle between two {timeframe} bars"
    else:
        what = "a gap"
    field = [*loc, at, "t"]
    return StreamConflict(
        field,
        f"{'.'.join(map(str, field))}: expected the next {timeframe} candle of {symbol} at "
        f"{_iso(want)} (the window ends at {_iso(last)}), found {_iso(got)}: {what}; resend "
        f"the full window (at least {required} candles) to reset it",
    )


class StreamWindows:
    """The windows of this process, least recently used first."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self.max_streams = max_streams
        self._windows: OrderedDict[tuple[str, str], Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def get(self, key: tuple[str, str]) -> Window | None:
        return self._windows.get(key)

    def put(self, key: tuple[str, str], window: Window) -> None:
        self._windows[key] = window
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_streams:
            self._windows.popitem(last=False)

    def extended(
        self,
        key: tuple[str, str],
        times: np.ndarray,
        values: np.ndarray,
        required: int,
        loc: list[str | int],
    ) -> Window | None:
        """The key's window with the new candles appended (capacity kept), or None when the
        new candles are not plain (their rows fail a rule: the caller's validation says which).
        StreamConflict when there is no usable window or they do not continue it."""
        symbol, timeframe = key
        window = self._windows.get(key)
        if window is None or len(window.times) < required:
            why = "no window" if window is None else f"a window of {len(window.times)} candles"
            raise StreamConflict(
                loc,
                f"{'.'.join(map(str, loc))}: expected a full window of at least {required} "
                f"{timeframe} candles of {symbol}: this server has {why} for it (first call, "
                "a restart, another replica, or a release needing more history)",
            )
        if len(times) == 0:
            return window
        expected = next_times(window, timeframe, len(times))
        wrong = times != expected
        if wrong.any():
            raise conflict(window, key, times, expected, int(np.argmax(wrong)), loc, required)
        if not rows_ok(times, values):
            return None
        capacity = len(window.times)
        return Window(
            np.concatenate([window.times, times])[-capacity:],
            np.concatenate([window.values, values])[-capacity:],
            window.business_days,
        )

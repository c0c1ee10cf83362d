"""Candles from numpy arrays: the service's fast path to a validated ``Candles``.

``candles_from_arrays`` checks every rule of ``data.validate`` with whole-array numpy
operations (no per-candle Python objects, no pandas until the frame is built once). When a
rule fails, the frame goes through ``data.make_candles`` itself, so the error message (row,
timestamp, count) is exactly the core's; the fast checks only decide that nothing fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ai_engine.data import COLUMNS, Candles, ValidationSettings, make_candles, timeframe_delta

NS_PER_DAY = 86_400 * 10**9
MAX_MS = 9_000_000_000_000
"""Largest epoch-ms timestamp taken on the fast path (year 2255; pandas ends in 2262)."""


def epoch_ns(times: np.ndarray) -> np.ndarray | None:
    """Epoch ms (or s: every value ≤ 1e11, as the core reads them) as int64 ns; None when out of
    the fast path's range (the core then explains why)."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(times.min()), int(times.max())
    if low < 0 or high > MAX_MS:
        return None
    scale = 1_000_000 if high > 10**11 else 1_000_000_000
    return times.astype(np.int64) * scale


def frame_of(times_ns: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """The core's candle frame (UTC ``date`` index, float64 OHLCV) over ``values`` ``(n, 5)``."""
    index = pd.DatetimeIndex(times_ns.view("M8[ns]"), name="date").tz_localize("UTC")
    return pd.DataFrame(values, index=index, columns=list(COLUMNS), copy=False)


def rows_ok(times_ns: np.ndarray, values: np.ndarray) -> bool:
    """Every per-row rule of ``data.validate`` holds and timestamps strictly increase."""
    if not np.isfinite(values).all():
        return False
    o, h, low, c, v = values.T
    if (values[:, :4] <= 0).any() or (v < 0).any() or (h < low).any():
        return False
    if (h < np.maximum(o, c)).any() or (low > np.minimum(o, c)).any():
        return False
    return bool((np.diff(times_ns) > 0).all())


def missing_bars(times_ns: np.ndarray, timeframe: str) -> np.ndarray:
    """Bars missing before each step, as ``data._gap_warnings`` counts them (business days for
    daily candles without weekend bars)."""
    step = timeframe_delta(timeframe).value
    if step == NS_PER_DAY:
        days = times_ns // NS_PER_DAY  # 1970-01-01 was a Thursday: weekday = (days + 3) % 7
        if not ((days + 3) % 7 >= 5).any():
            as_days = days.astype("datetime64[D]")
            return np.busday_count(as_days[:-1], as_days[1:]) - 1
    return np.diff(times_ns) // step - 1


def gap_warnings(
    frame: pd.DataFrame,
    times_ns: np.ndarray,
    timeframe: str,
    settings: ValidationSettings,
    source: str,
) -> list[str] | None:
    """The core's gap warning, or None when the gaps exceed the allowed share (the core raises)."""
    if len(times_ns) < 2:
        return []
    missing = missing_bars(times_ns, timeframe)
    gapped = missing > 0
    gaps = int(gapped.sum())
    if gaps == 0:
        return []
    share = gaps / (len(times_ns) - 1)
    if share > settings.max_gap_share:
        return None
    first = frame.index[int(np.argmax(gapped))]
    return [
        f"{source}: {gaps} gap(s) totalling {int(missing[gapped].sum())} missing bar(s) "
        f"({share:.1%} of steps; first after {first})"
    ]


def candles_from_arrays(
    times_ns: np.ndarray,
    values: np.ndarray,
    symbol: str,
    timeframe: str,
    settings: ValidationSettings,
    source: str = "candles",
) -> Candles:
    """Validated candles from int64 epoch-ns ``times_ns`` ``(n,)`` and float64 OHLCV ``values``
    ``(n, 5)``; the same Candles (and the same DataValidationError) as ``data.make_candles``."""
    frame = frame_of(times_ns, values)
    if len(times_ns) >= settings.min_rows and rows_ok(times_ns, values):
        warnings = gap_warnings(frame, times_ns, timeframe, settings, source)
        if warnings is not None:
            return Candles(frame, symbol, timeframe, tuple(warnings))
    return make_candles(frame, symbol, timeframe, settings, source)  # raises the core's error

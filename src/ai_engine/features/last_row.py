"""The last bar's v1 features over plain arrays: serving's kernel, without a DataFrame.

``v1.compute`` builds all 22 columns for every bar of the window (``(n, 22)``) and serving
keeps one row. ``last_row`` computes that row alone from the window's arrays: the recursive
TA-Lib indicators (RSI, MACD's EMAs, ATR's smoothing) and TA-Lib's running sums (SMA,
STDDEV, BBANDS) still run over the whole window, through the same TA-Lib array functions on
the same inputs, so their last values are the same bits; everything element-wise is done for
the last bar only, with the same floating-point operations in the same order as ``compute``.
The result is bit-identical to ``compute(...).tabular[-1]`` and to the last ``lookback``
returns (tests/features/test_last_row.py checks it over hundreds of windows and edge cases).

``latest_arrays`` wraps it for ``dataset.latest_inputs``: it answers None whenever the
window is not plain (another spec, fewer than ``min_history`` candles, columns that are not
float64, a feature that is not finite) and the caller then takes the reference path, which
also raises today's errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

from ai_engine.features.spec import FeatureSpec
from ai_engine.features.v1 import RETURN_LAGS, SPEC_V1, VOLATILITY_WINDOWS

COLUMNS = ("open", "high", "low", "close", "volume")
"""The frame columns ``latest_frame_arrays`` reads, in the order ``last_row`` takes them."""

OHLCV = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Open, high, low, close and volume of n candles, each ``(n,)`` float64."""

_LAG_INDEX = np.array([-1 - lag for lag in RETURN_LAGS])
"""Positions of ``close[t - lag]`` from the end of the window, for every return lag."""


def last_row(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    lookback: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The last bar's 22 features ``(22,)`` and its last ``lookback`` log returns
    ``(lookback,)``, from float64 arrays ``(n,)`` with ``n > max(lookback, 60)``.

    Equal, bit for bit, to ``compute(open_, high, low, close, volume).tabular[-1]`` and
    ``.returns[-lookback:]``; NaN where ``compute`` has NaN (too little history).
    """
    out = np.empty(22)
    log_close = np.log(close)
    diffs = np.diff(log_close)  # compute's returns[1:]; TA-Lib skips the leading NaN anyway
    c = close[-1]
    out[0:6] = log_close[-1] - log_close[_LAG_INDEX]
    for i, window in enumerate(VOLATILITY_WINDOWS):
        out[6 + i] = talib.STDDEV(diffs, timeperiod=window, nbdev=1.0)[-1]
    out[9] = talib.RSI(close, timeperiod=14)[-1] / 100.0
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    out[10] = macd[-1] / c
    out[11] = signal[-1] / c
    out[12] = hist[-1] / c
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    width = upper[-1] - lower[-1]
    out[13] = _ratio(c - lower[-1], width, fill=0.5)
    out[14] = width / middle[-1]
    out[15] = talib.ATR(high, low, close, timeperiod=14)[-1] / c
    volume_mean = talib.SMA(volume, timeperiod=20)[-1]
    volume_std = talib.STDDEV(volume, timeperiod=20)[-1]
    out[16] = _ratio(volume[-1] - volume_mean, volume_std, fill=0.0)
    out[17] = _ratio(talib.SMA(volume, timeperiod=5)[-1], volume_mean, fill=1.0)
    out[18] = (high[-1] - low[-1]) / c
    out[19] = np.log(close[-1:] / open_[-1:])[0]  # the array ufunc loop, as compute's
    out[20] = c / middle[-1] - 1.0  # BBANDS' middle is TA-Lib's SMA(close, 20)
    out[21] = c / talib.SMA(close, timeperiod=50)[-1] - 1.0
    return out, diffs[-lookback:]


def latest_frame_arrays(frame: pd.DataFrame) -> OHLCV | None:
    """The five float64 columns ``(n,)`` of a plain candle frame (exactly ``COLUMNS``, all
    float64), in ``COLUMNS`` order, without per-column pandas Series; None otherwise."""
    if tuple(frame.columns) != COLUMNS:
        return None
    # Every column's own dtype (``frame.dtypes`` costs ~16 µs): to_numpy alone would upcast an
    # integer column that the reference hands to TA-Lib as it is (and TA-Lib refuses).
    blocks = getattr(getattr(frame, "_mgr", None), "blocks", None)
    if blocks is None or any(block.dtype != np.float64 for block in blocks):
        return None
    values = frame.to_numpy(np.float64)  # one block: a view (n, 5), its columns contiguous
    o, h, low, c, v = np.ascontiguousarray(values.T)
    return o, h, low, c, v


def latest_arrays(
    frame: pd.DataFrame, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex] | None:
    """``(tabular (1, 22), sequence (1, lookback, 1), timestamps (1,))`` of the frame's last
    bar through ``last_row``; None when the window is not plain (see the module's doc)."""
    if spec is not SPEC_V1 and spec != SPEC_V1:
        return None
    if len(frame) < spec.min_history:
        return None
    arrays = latest_frame_arrays(frame)
    if arrays is None:
        return None
    features = _last_features(arrays, spec)
    if features is None:
        return None
    timestamps = frame.index[-1:]
    if timestamps.freq is not None:  # a slice keeps the index's freq; the reference's does not
        timestamps = frame.index[[len(frame) - 1]]
    return *features, timestamps


def latest_ohlcv_arrays(
    times_ns: np.ndarray, ohlcv: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex] | None:
    """``latest_arrays`` of validated arrays (epoch ns ``(n,)``, float64 OHLCV ``(n, 5)``), as
    the service holds them: no frame is built."""
    if spec is not SPEC_V1 and spec != SPEC_V1:
        return None
    if len(times_ns) < spec.min_history or ohlcv.dtype != np.float64:
        return None
    o, h, low, c, v = np.ascontiguousarray(ohlcv.T)
    features = _last_features((o, h, low, c, v), spec)
    if features is None:
        return None
    stamp = times_ns[-1:].view("M8[ns]")
    return *features, pd.DatetimeIndex(stamp, name="date").tz_localize("UTC")


def _last_features(arrays: OHLCV, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """``last_row``'s tabular ``(1, 22)`` and sequence ``(1, lookback, 1)``; None when a feature
    is not finite (the reference path raises the error with its timestamp)."""
    tabular, returns = last_row(*arrays, spec.lookback)
    if not np.isfinite(tabular).all():
        return None
    return tabular.reshape(1, -1), returns.reshape(1, spec.lookback, 1).copy()


def _ratio(numerator: float, denominator: float, fill: float) -> float:
    """``v1._ratio`` for one value: NaN if the denominator is, ``fill`` where it is 0."""
    if denominator != denominator:
        return float("nan")
    if denominator == 0:
        return fill
    return float(numerator / denominator)

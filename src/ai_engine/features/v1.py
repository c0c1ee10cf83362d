"""FeatureSpec v1: 22 tabular features (TA-Lib), windows of log returns, 12-step targets.

One function, ``compute``, turns candles into per-bar features for training and serving alike.
Every value at bar t is computed from bars ``<= t`` only (TA-Lib indicators and trailing
windows); targets at bar t are the cumulative forward log returns ``log(close[t+h]/close[t])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import talib

from ai_engine.errors import DataValidationError
from ai_engine.features.spec import FeatureSpec

RETURN_LAGS = (1, 2, 3, 5, 10, 20)
VOLATILITY_WINDOWS = (5, 20, 60)

SPEC_V1 = FeatureSpec(
    version="v1",
    names=(
        *(f"log_return_{n}" for n in RETURN_LAGS),
        *(f"volatility_{n}" for n in VOLATILITY_WINDOWS),
        "rsi_14",
        "macd_line",
        "macd_signal",
        "macd_hist",
        "bollinger_pct_b",
        "bollinger_bandwidth",
        "atr_14_rel",
        "volume_zscore_20",
        "volume_ratio_5_20",
        "high_low_range",
        "close_open",
        "distance_sma_20",
        "distance_sma_50",
    ),
    params=(
        ("implementation", "ta-lib/1"),
        ("return_lags", RETURN_LAGS),
        ("volatility_windows", VOLATILITY_WINDOWS),
        ("rsi", 14),
        ("macd", (12, 26, 9)),
        ("bollinger", (20, 2.0)),
        ("atr", 14),
        ("volume_zscore", 20),
        ("volume_ratio", (5, 20)),
        ("sma_distance", (20, 50)),
        ("macd_scaled_by", "close"),
    ),
    lookback=96,
    horizon=12,
    min_history=200,
    channels=("log_return",),
)


@dataclass(frozen=True)
class BarFeatures:
    """Per-bar features of n candles: ``tabular`` (n, 22), ``returns`` (n,), ``close`` (n,).

    Rows before an indicator has enough history hold NaN.
    """

    tabular: np.ndarray
    returns: np.ndarray
    close: np.ndarray


def compute(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> BarFeatures:
    """The 22 tabular features of SPEC_V1 and the log-return series, for every bar."""
    log_close = np.log(close)
    returns = np.r_[np.nan, np.diff(log_close)]
    columns = [_lagged_difference(log_close, n) for n in RETURN_LAGS]
    columns += [talib.STDDEV(returns, timeperiod=n, nbdev=1.0) for n in VOLATILITY_WINDOWS]
    columns.append(talib.RSI(close, timeperiod=14) / 100.0)
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    columns += [macd / close, signal / close, hist / close]
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    width = upper - lower
    columns.append(_ratio(close - lower, width, fill=0.5))
    columns.append(width / middle)
    columns.append(talib.ATR(high, low, close, timeperiod=14) / close)
    volume_mean = talib.SMA(volume, timeperiod=20)
    columns.append(_ratio(volume - volume_mean, talib.STDDEV(volume, timeperiod=20), fill=0.0))
    columns.append(_ratio(talib.SMA(volume, timeperiod=5), volume_mean, fill=1.0))
    columns.append((high - low) / close)
    columns.append(np.log(close / open_))
    columns.append(close / talib.SMA(close, timeperiod=20) - 1.0)
    columns.append(close / talib.SMA(close, timeperiod=50) - 1.0)
    return BarFeatures(np.column_stack(columns), returns, close)


def targets(close: np.ndarray, horizon: int) -> np.ndarray:
    """Cumulative forward log returns, (n,) -> (n, horizon); NaN where the future is unknown."""
    log_close = np.log(close)
    out = np.full((len(close), horizon), np.nan)
    for h in range(1, horizon + 1):
        out[:-h, h - 1] = log_close[h:] - log_close[:-h]
    return out


def return_windows(returns: np.ndarray, rows: np.ndarray, lookback: int) -> np.ndarray:
    """Windows of the last ``lookback`` returns ending at each row: (k,) -> (k, lookback, 1)."""
    if len(rows) and rows.min() < lookback:
        raise DataValidationError(
            f"a window of {lookback} returns needs row >= {lookback}, found row {rows.min()}"
        )
    if len(rows) == 1:  # serving: one slice (a copy, as below), without the strided view
        end = int(rows[0]) + 1
        return returns[end - lookback : end].reshape(1, lookback, 1).copy()
    view = np.lib.stride_tricks.sliding_window_view(returns, lookback)
    return view[rows - lookback + 1][:, :, None]


def _lagged_difference(series: np.ndarray, lag: int) -> np.ndarray:
    out = np.full_like(series, np.nan)
    out[lag:] = series[lag:] - series[:-lag]
    return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray, fill: float) -> np.ndarray:
    """numerator / denominator, ``fill`` where the denominator is 0 (e.g. no volume at all)."""
    out = np.full_like(numerator, fill)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return np.where(np.isnan(denominator), np.nan, out)

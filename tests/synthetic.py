"""Synthetic candle frames for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_frame(n: int = 600, seed: int = 0, freq: str = "5min") -> pd.DataFrame:
    """A valid random-walk candle frame of ``n`` bars."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, n))
    volume = rng.uniform(100, 1000, n)
    index = pd.date_range("2024-01-01", periods=n, freq=freq, tz="UTC", name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def sine_windows(lookback: int, horizon: int, n: int = 700) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless sine 'returns' (period 16) and their cumulative sum over the next bars."""
    series = np.sin(2 * np.pi * np.arange(n + lookback + horizon) / 16.0)
    x = np.stack([series[i : i + lookback] for i in range(n)])[..., None]
    y = np.stack([np.cumsum(series[i + lookback : i + lookback + horizon]) for i in range(n)])
    return x.astype(np.float32), y.astype(np.float32)

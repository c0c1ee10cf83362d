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

"""Synthetic markets with known answers, to check that the engine finds an edge exactly where
one exists (benchmarks/synthetic_markets.py and the tests).

Each market is a series of one-bar log returns turned into a valid candle frame:

- ``random_walk``: i.i.d. normal returns: nothing to predict, the right answer is HOLD.
- ``shuffled``: real returns in random order: their distribution without any time structure.
- ``persistent_drift``: returns around a slowly moving mean, ``mu_t = phi mu_{t-1} + eta_t``
  (AR(1), ``phi`` close to 1): the past reveals the drift of the next bars.
- ``one_bar_reversal``: AR(1) returns with a negative coefficient: only ``h = 1`` is
  predictable, and only after low costs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def candles_from_returns(
    returns: np.ndarray, seed: int = 0, freq: str = "5min", start: str = "2024-01-01"
) -> pd.DataFrame:
    """A valid OHLCV frame whose closes follow ``returns`` ``(n,)`` (log returns)."""
    rng = np.random.default_rng(seed + 1_000_003)
    n = len(returns)
    close = 100.0 * np.exp(np.cumsum(returns))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0005, n))
    volume = rng.uniform(100, 1000, n)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def random_walk(n: int, seed: int = 0, sigma: float = 0.002) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


def shuffled(returns: np.ndarray, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.asarray(returns, dtype=np.float64))


def persistent_drift(
    n: int, seed: int = 0, sigma: float = 0.002, drift_sigma: float = 0.0006, phi: float = 0.995
) -> np.ndarray:
    """Noise ``sigma`` around an AR(1) mean of stationary spread ``drift_sigma``."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, drift_sigma * np.sqrt(1 - phi**2), n)
    mean = np.zeros(n)
    mean[0] = rng.normal(0.0, drift_sigma)
    for t in range(1, n):
        mean[t] = phi * mean[t - 1] + shocks[t]
    return mean + rng.normal(0.0, sigma, n)


def one_bar_reversal(n: int, seed: int = 0, sigma: float = 0.002, phi: float = -0.3) -> np.ndarray:
    """``r_t = phi r_{t-1} + e_t``."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out

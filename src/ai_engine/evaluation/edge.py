"""Out-of-sample tests of a forecast against the zero forecast (the random walk).

``clark_west``: the combined forecast nests the zero forecast (all weights 0), so under the
null of no predictability its squared-error gain is biased downwards by the estimation noise
of the bigger model; Clark and West (2007) add that noise back, ``f_t^2``, and test the mean of
``e0^2 - e1^2 + f_t^2`` with a one-sided t-test. Forecasts of ``h``-bar returns overlap: the
loss differential is MA(h-1) under the null, so its long-run variance sums the first ``h - 1``
autocovariances with equal weight (the truncated, "uniform" kernel; a Bartlett kernel with
``h - 1`` lags under-weights them and over-rejects), and the statistic takes the
Harvey-Leybourne-Newbold (1997) small-sample factor and Student-t(n - 1) tails
(``hln_mean_test``). ``diebold_mariano``: the same test on a loss differential, for models
that do not nest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TestResult:
    """A one-sided test that the candidate is better than the benchmark."""

    statistic: float
    p_value: float
    n: int


def hln_mean_test(series: np.ndarray, horizon: int) -> TestResult:
    """One-sided test that ``mean(series) > 0`` for an ``h``-step loss differential ``(n,)``:
    uniform-kernel long-run variance with ``h - 1`` lags (Newey-West with ``2h`` lags where
    that is not positive), HLN factor, Student-t(n - 1) p-value."""
    series = np.asarray(series, dtype=np.float64)
    n = len(series)
    if n < 3 or not np.any(series - series[0]):
        mean = float(series.mean()) if n else 0.0
        return TestResult(0.0 if mean <= 0 else np.inf, 1.0 if mean <= 0 else 0.0, n)
    from scipy.stats import t as student
    from statsmodels.tsa.stattools import acovf  # training and backtests only

    h = max(int(horizon), 1)
    lags = min(h, n - 1) - 1
    gamma = acovf(series, nlag=lags, fft=False)  # biased (/n) autocovariances 0..lags
    long_run = gamma[0] + 2.0 * gamma[1:].sum()
    if long_run <= 0:  # not positive: Newey-West (Bartlett weights) with 2h lags
        lags = min(2 * h, n - 1)
        auto = acovf(series, nlag=lags, fft=False)
        long_run = auto[0] + 2.0 * (auto[1:] @ (1 - np.arange(1, lags + 1) / (lags + 1)))
    statistic = float(series.mean()) / np.sqrt(max(long_run, 1e-300) / n)
    statistic *= np.sqrt(max(n + 1 - 2 * h + h * (h - 1) / n, 1.0) / n)
    return TestResult(statistic, float(student.sf(statistic, n - 1)), n)


def clark_west(actual: np.ndarray, forecast: np.ndarray, horizon: int) -> TestResult:
    """Clark-West test of ``forecast`` ``(n,)`` against the zero forecast for ``actual`` ``(n,)``
    at ``horizon`` bars; a forecast that is all zeros is the null itself (p = 1)."""
    if not np.any(forecast):
        return TestResult(0.0, 1.0, len(actual))
    adjusted = actual**2 - (actual - forecast) ** 2 + forecast**2
    return hln_mean_test(adjusted, horizon)


def diebold_mariano(
    loss_benchmark: np.ndarray, loss_candidate: np.ndarray, horizon: int
) -> TestResult:
    """Diebold-Mariano: is the candidate's loss ``(n,)`` below the benchmark's on average?"""
    return hln_mean_test(loss_benchmark - loss_candidate, horizon)


def oos_r2(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Out-of-sample R^2 against the zero forecast: ``1 - SSE(forecast) / SSE(0)``."""
    baseline = float(np.sum(actual**2))
    if baseline <= 0:
        return 0.0
    return 1.0 - float(np.sum((actual - forecast) ** 2)) / baseline

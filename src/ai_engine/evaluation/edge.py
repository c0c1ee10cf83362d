"""Out-of-sample tests of a forecast against the zero forecast (the random walk).

``clark_west``: the combined forecast nests the zero forecast (all weights 0), so under the
null of no predictability its squared-error gain is biased downwards by the estimation noise
of the bigger model; Clark and West (2007) add that noise back, ``f_t^2``, and test the mean of
``e0^2 - e1^2 + f_t^2`` with a one-sided t-test. Forecasts of ``h``-bar returns overlap, so
the variance is Newey-West (HAC) with ``h - 1`` lags (statsmodels' OLS on a constant).
``diebold_mariano``: the same HAC t-test on a loss differential, for models that do not nest.
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


def hac_mean_test(series: np.ndarray, lags: int) -> TestResult:
    """t-test that ``mean(series) > 0`` with Newey-West standard errors of ``lags`` lags."""
    series = np.asarray(series, dtype=np.float64)
    n = len(series)
    if n < 3 or not np.any(series - series[0]):
        mean = float(series.mean()) if n else 0.0
        return TestResult(0.0 if mean <= 0 else np.inf, 1.0 if mean <= 0 else 0.0, n)
    import statsmodels.api as sm  # training and backtests only: kept off the serving import
    from scipy.stats import norm

    fit = sm.OLS(series, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": max(lags, 0)})
    statistic = float(fit.tvalues[0])
    return TestResult(statistic, float(norm.sf(statistic)), n)


def clark_west(actual: np.ndarray, forecast: np.ndarray, horizon: int) -> TestResult:
    """Clark-West test of ``forecast`` ``(n,)`` against the zero forecast for ``actual`` ``(n,)``
    at ``horizon`` bars; a forecast that is all zeros is the null itself (p = 1)."""
    if not np.any(forecast):
        return TestResult(0.0, 1.0, len(actual))
    adjusted = actual**2 - (actual - forecast) ** 2 + forecast**2
    return hac_mean_test(adjusted, horizon - 1)


def diebold_mariano(
    loss_benchmark: np.ndarray, loss_candidate: np.ndarray, horizon: int
) -> TestResult:
    """Diebold-Mariano: is the candidate's loss ``(n,)`` below the benchmark's on average?"""
    return hac_mean_test(loss_benchmark - loss_candidate, horizon - 1)


def oos_r2(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Out-of-sample R^2 against the zero forecast: ``1 - SSE(forecast) / SSE(0)``."""
    baseline = float(np.sum(actual**2))
    if baseline <= 0:
        return 0.0
    return 1.0 - float(np.sum((actual - forecast) ** 2)) / baseline

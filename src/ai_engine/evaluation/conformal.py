"""Conformal forecast intervals from out-of-fold residuals, scaled by local volatility.

Split conformal (Vovk et al.; Lei et al. 2018) on normalised scores: the score of a row is
``|actual - forecast| / (sigma_t * sqrt(h))``, where ``sigma_t`` is the root mean square of the
last ``window`` one-bar log returns at that row. The interval at horizon ``h`` is
``forecast ± q_h * sigma_t * sqrt(h)`` with ``q_h`` the finite-sample ``ceil((n+1)(1-a))/n``
quantile of the scores. Dividing by the local volatility makes the band widen and narrow with
the market, so coverage holds when the level of the residuals drifts (volatility regimes),
which a fixed band does not.

With a volatility model (``VolModel``: GARCH(1,1) fitted with ``arch`` on the training rows'
one-bar returns) the scale is its forecast over the next ``h`` bars instead: the conditional
variance after the window's last bar, mean-reverting to the long-run level at rate
``alpha + beta``, summed over the ``h`` bars. A 48-bar RMS lags, and ``sqrt(h)`` times it ignores
that volatility reverts: calm bars got too narrow a band at long horizons, turbulent ones too
wide a band. On GARCH(1,1)-t data the term structure puts coverage near nominal in every
volatility tercile; on the crypto files it does not yet (benchmarks/RESULTS.md, issue 24).

Adaptive where the scores drift: the calibrated quantile is rescaled by how the zero
forecast's scores of the last ``recent_window`` bars whose outcome is already known compare with
its scores in calibration (``q_h * recent_h / calibration_h``). The candles alone give those
scores, so a stateless service computes it per request from the window it is sent, and the
backtest per bar from the bars before it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ai_engine.errors import ConfigError

SCALE_FLOOR = 1e-8


def local_scale(windows: np.ndarray, window: int) -> np.ndarray:
    """RMS of the last ``window`` returns: ``(n, lookback, channels)`` -> ``(n,)``."""
    if window < 2 or window > windows.shape[1]:
        raise ConfigError(
            f"volatility window must be within [2, {windows.shape[1]}] bars, found {window}"
        )
    recent = windows[:, -window:, 0].astype(np.float64)
    return np.maximum(np.sqrt(np.mean(recent**2, axis=1)), SCALE_FLOOR)


def horizon_scale(scale: np.ndarray, horizon: int) -> np.ndarray:
    """``sigma_t * sqrt(h)`` for ``h = 1..horizon``: ``(n,)`` -> ``(n, horizon)``; a scale
    that is already per horizon ``(n, horizon)`` (``garch_scale``) is returned as it is."""
    if scale.ndim == 2:
        return scale
    return scale[:, None] * np.sqrt(np.arange(1, horizon + 1))[None, :]


@dataclass(frozen=True)
class VolModel:
    """GARCH(1,1) of one-bar log returns: ``v_{t+1} = omega + alpha r_t^2 + beta v_t``."""

    omega: float
    alpha: float
    beta: float

    @property
    def long_run(self) -> float:
        return self.omega / (1.0 - self.alpha - self.beta)

    def to_json(self) -> dict[str, Any]:
        return {"model": "garch(1,1)", "omega": self.omega, "alpha": self.alpha, "beta": self.beta}

    def variance_after(self, returns: np.ndarray) -> np.ndarray:
        """Variance of the bar after each window of one-bar returns ``(n, L)`` -> ``(n,)``: the
        recursion run from the long-run variance."""
        omega, alpha, beta = self.omega, self.alpha, self.beta
        if len(returns) == 1:  # the serving case: Python floats, the same IEEE steps, no numpy
            last = self.long_run
            for r in returns[0].tolist():
                last = omega + alpha * (r * r) + beta * last
            return np.array([last])
        variance = np.full(len(returns), self.long_run)
        for j in range(returns.shape[1]):
            variance = omega + alpha * (returns[:, j] * returns[:, j]) + beta * variance
        return variance

    def variance_path(self, returns: np.ndarray) -> np.ndarray:
        """``variance[t]``, of the bar after ``t``, known at ``t``, for one-bar returns ``(n-1,)``
        -> ``(n,)`` (``variance[0]`` is the long-run variance)."""
        omega, alpha, beta = self.omega, self.alpha, self.beta
        variance = self.long_run
        path = [variance]
        for r in returns.tolist():
            variance = omega + alpha * r * r + beta * variance
            path.append(variance)
        return np.array(path)

    def term_sd(self, variance: np.ndarray, horizon: int) -> np.ndarray:
        """Forecast sd of the next ``1..horizon`` bars' sum from the next bar's variance
        ``(n,)`` -> ``(n, horizon)``."""
        level, decay = _term_structure(self.alpha + self.beta, self.long_run, horizon)
        total = level[None, :] + decay[None, :] * (variance - self.long_run)[:, None]
        return np.sqrt(np.maximum(total, SCALE_FLOOR**2))

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> VolModel | None:
        if not data:
            return None
        return cls(float(data["omega"]), float(data["alpha"]), float(data["beta"]))


def fit_vol_model(returns: np.ndarray) -> VolModel | None:
    """GARCH(1,1) with Student-t shocks fitted on one-bar returns ``(n,)``; None when the
    series is short or flat or the fit is not stationary (the RMS scale is used then)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    spread = float(np.std(r)) if len(r) else 0.0
    if len(r) < 500 or spread <= 0:
        return None
    from arch import arch_model  # training only: kept off the serving import

    try:
        model = arch_model(r / spread, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
        params = model.fit(disp="off", show_warning=False).params
    except (ValueError, np.linalg.LinAlgError):
        return None
    omega, alpha, beta = (float(params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
    if not (omega > 0 and alpha >= 0 and beta >= 0 and alpha + beta < 0.999):
        return None
    return VolModel(omega * spread**2, alpha, beta)


def garch_scale(returns: np.ndarray, model: VolModel, horizon: int) -> np.ndarray:
    """Forecast sd of the next ``1..horizon`` bars' sum after each window of one-bar returns
    ``(n, L)`` (the recursion starts at the long-run variance): ``(n, horizon)``."""
    return model.term_sd(model.variance_after(returns), horizon)


@functools.lru_cache(maxsize=64)
def _term_structure(persistence: float, long_run: float, horizon: int) -> tuple[np.ndarray, ...]:
    """``h * long_run`` and ``sum_{k<h} persistence^k`` for ``h = 1..horizon``, read-only."""
    steps = np.arange(1, horizon + 1)
    level = steps * long_run
    decay = np.cumsum(persistence ** (steps - 1))
    level.flags.writeable = decay.flags.writeable = False
    return level, decay


def conformal_quantiles(
    actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray, coverage: float
) -> np.ndarray:
    """Per-horizon score quantiles ``(H,)`` from residuals ``(n, H)`` and scales ``(n,)`` (or
    ``(n, H)``, see ``horizon_scale``)."""
    if not 0 < coverage < 1:
        raise ConfigError(f"interval coverage must be within (0, 1), found {coverage}")
    n = len(actual)
    if n < 2:
        raise ConfigError(f"conformal intervals need at least 2 residual rows, found {n}")
    scores = np.abs(actual - forecast) / horizon_scale(scale, actual.shape[1])
    level = min(math.ceil((n + 1) * coverage) / n, 1.0)
    return np.quantile(scores, level, axis=0, method="higher")


def interval(
    forecast: np.ndarray, scale: np.ndarray, quantiles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds ``(n, H)`` for forecasts ``(n, H)`` at local scales ``(n,)``;
    ``quantiles`` ``(H,)``, or ``(n, H)`` when they vary by row."""
    half = quantiles * horizon_scale(scale, forecast.shape[1])
    return forecast - half, forecast + half


def coverage_rate(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Share of outcomes inside their interval, per horizon ``(H,)``."""
    return np.mean((actual >= lower) & (actual <= upper), axis=0)


def outcome_scores(
    log_close: np.ndarray, vol_window: int, horizon: int, model: VolModel | None = None
) -> np.ndarray:
    """Scores of the zero forecast, ``(n,) -> (n, H)``: ``|log_close[t+h] - log_close[t]|``
    over ``sigma_t * sqrt(h)`` (``sigma_t`` as in ``local_scale``), or over the ``model``'s
    term structure at ``t`` (its recursion run from the first bar); NaN where ``t + h`` is
    past the end or the first ``vol_window`` bars are not behind ``t``."""
    if model is not None:
        return model_scores(log_close, vol_window, horizon, model)
    n = len(log_close)
    squared = np.r_[0.0, np.diff(log_close) ** 2]
    total = np.cumsum(squared)
    sigma = np.full(n, np.nan)
    if n > vol_window:
        ends = np.arange(vol_window, n)
        sigma[ends] = np.sqrt((total[ends] - total[ends - vol_window]) / vol_window)
    sigma = np.maximum(sigma, SCALE_FLOOR)
    scores = np.full((n, horizon), np.nan)
    for h in range(1, horizon + 1):
        moves = np.abs(log_close[h:] - log_close[:-h]) if n > h else np.empty(0)
        scores[: n - h, h - 1] = moves / (sigma[: n - h] * np.sqrt(h))
    return scores


def model_scores(
    log_close: np.ndarray, vol_window: int, horizon: int, model: VolModel
) -> np.ndarray:
    """``outcome_scores`` with the volatility model's scale."""
    n = len(log_close)
    sigma = model.term_sd(model.variance_path(np.diff(log_close)), horizon)
    steps = np.arange(1, horizon + 1)
    scores = np.full((n, horizon), np.nan)
    for h in steps:
        moves = np.abs(log_close[h:] - log_close[:-h]) if n > h else np.empty(0)
        scores[: n - h, h - 1] = moves / sigma[: n - h, h - 1]
    scores[: min(vol_window, n)] = np.nan
    return scores


def recent_quantiles(
    scores: np.ndarray, rows: np.ndarray, window: int, coverage: float
) -> np.ndarray:
    """Per row ``t`` and horizon ``h``, the ``coverage`` quantile of the last ``window`` scores
    whose outcome is known at ``t`` (rows ``t' <= t - h``): ``(n, H)``, rows ``(m,)`` ->
    ``(m, H)``; NaN where fewer than ``window`` such scores exist."""
    n, horizon = scores.shape
    if window < 1 or len(rows) == 0:
        return np.full((len(rows), horizon), np.nan)
    chunk = max(1, 2_000_000 // (horizon * window))  # rows at a time: bounded memory
    if len(rows) > chunk:
        parts = [rows[i : i + chunk] for i in range(0, len(rows), chunk)]
        return np.concatenate([recent_quantiles(scores, p, window, coverage) for p in parts])
    steps = np.arange(1, horizon + 1)
    first = rows[:, None] - steps[None, :] - window + 1
    index = first[:, :, None] + np.arange(window)[None, None, :]
    picked = scores[np.clip(index, 0, n - 1), (steps - 1)[None, :, None]]
    complete = (first >= 0) & ~np.isnan(picked).any(axis=2)
    filled = np.where(complete[:, :, None], picked, 0.0)
    return np.where(complete, last_axis_quantile(filled, coverage), np.nan)


def recent_quantiles_at_last(
    log_close: np.ndarray,
    vol_window: int,
    horizon: int,
    window: int,
    coverage: float,
    model: VolModel | None = None,
) -> np.ndarray:
    """``recent_quantiles(outcome_scores(log_close, ...), [n - 1], ...)`` computing only the
    ``horizon * window`` scores it reads (the serving case): ``(n,)`` -> ``(1, H)``."""
    n = len(log_close)
    if window < 1 or n - 1 - window < vol_window:  # not even h = 1 has its scores: none
        return np.full((1, horizon), np.nan)
    steps = np.arange(1, horizon + 1)
    rows = (n - 1 - steps - window + 1)[:, None] + np.arange(window)[None, :]
    if rows[-1, 0] < vol_window:  # too short for some horizons: the general path says which
        scores = outcome_scores(log_close, vol_window, horizon, model)
        return recent_quantiles(scores, np.array([n - 1]), window, coverage)
    if model is None:
        total = np.cumsum(np.r_[0.0, np.diff(log_close) ** 2])
        sigma = np.sqrt((total[rows] - total[rows - vol_window]) / vol_window)
        sigma = np.maximum(sigma, SCALE_FLOOR) * np.sqrt(steps)[:, None]
    else:
        sigma = model.term_sd(model.variance_path(np.diff(log_close)), horizon)
        sigma = sigma[rows, (steps - 1)[:, None]]
    moves = np.abs(log_close[rows + steps[:, None]] - log_close[rows])
    return last_axis_quantile(moves / sigma, coverage)[None, :]


def last_axis_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """``np.quantile(values, q, axis=-1)`` (its default, linear method, bit for bit) from one
    ``partition`` of the two order statistics it needs: ``(..., n)`` -> ``(...)``."""
    position = (values.shape[-1] - 1) * q
    below = math.floor(position)
    above = min(below + 1, values.shape[-1] - 1)
    ordered = np.partition(values, (below, above), axis=-1)
    low, high = ordered[..., below], ordered[..., above]
    fraction = position - below
    step = high - low
    if fraction >= 0.5:
        return high - step * (1 - fraction)
    return low + step * fraction

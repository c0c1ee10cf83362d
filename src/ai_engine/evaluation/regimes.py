"""Intervals that hold in calm and in storm: an EWMA fallback scale and Mondrian quantiles.

Two additions to the conformal intervals of ``conformal.py`` (issue 24):

- ``fit_scale_model``: the GARCH(1,1)-t term structure where a stationary fit exists, else an
  EWMA of squared one-bar returns (its smoothing ``lam`` chosen on the training rows by the
  one-step QLIKE loss), held in the same ``VolModel`` form: ``alpha = p (1 - lam)``,
  ``beta = p lam``, ``omega = (1 - p) s^2`` with persistence ``p = EWMA_PERSISTENCE`` and ``s^2``
  the training variance. Over a dozen bars its term structure is flat, as an EWMA's is; the
  slight pull to ``s^2`` keeps ``long_run`` finite. On crypto files the GARCH fit often sits on
  the unit-root boundary (ADA/BTC, BTC 1 m and 30 m), where the 48-bar RMS was used before.
- ``Buckets``: Mondrian (category-wise) split conformal (Vovk et al. 2003). The calibration
  rows are cut into buckets of their predicted one-bar volatility (quantile edges fitted on
  those rows, at least ``MIN_BUCKET_ROWS`` rows each) and the score quantile is taken per
  bucket and horizon with the finite-sample level ``ceil((n_b + 1)(1 - a)) / n_b``. A scale
  model that is too wide in calm bars and too narrow in turbulent ones (or the reverse) is
  corrected bucket by bucket. Serving looks a row's bucket up with one ``searchsorted``.
  The recent rescaling then divides each recent zero-forecast score by its own bucket's
  quantile (``normalised_scores``): the factor is 1 while the calibration holds, and a calm
  or turbulent recent window is not counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ai_engine.evaluation.conformal import (
    SCALE_FLOOR,
    VolModel,
    conformal_quantiles,
    fit_vol_model,
    last_axis_quantile,
    outcome_scores,
    recent_quantiles,
)

EWMA_PERSISTENCE = 0.998
EWMA_LAMBDAS = (0.7, 0.8, 0.88, 0.94, 0.97, 0.985)
BUCKETS = 5
MIN_BUCKET_ROWS = 300
GARCH, EWMA = "garch(1,1)", "ewma"


def ewma_variance(returns: np.ndarray, lam: float, start: float) -> np.ndarray:
    """``v[t]``, the EWMA variance of bar ``t`` known before it: ``(n,)`` -> ``(n,)``."""
    from scipy.signal import lfilter  # training only

    squared = np.r_[start, returns[:-1] ** 2]
    initial = np.array([lam * start])
    filtered, _ = lfilter([1.0 - lam], [1.0, -lam], squared, zi=initial)
    filtered[0] = start
    return np.asarray(filtered)


def fit_ewma(returns: np.ndarray) -> VolModel | None:
    """The EWMA scale model (see the module) on one-bar returns ``(n,)``; None when short or
    flat."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 100:
        return None
    level = float(np.mean(r**2))
    if level <= 0:
        return None
    burn = 50

    def qlike(lam: float) -> float:
        v = np.maximum(ewma_variance(r, lam, level), 1e-12 * level)
        return float(np.mean(np.log(v[burn:]) + r[burn:] ** 2 / v[burn:]))

    lam = min(EWMA_LAMBDAS, key=qlike)
    p = EWMA_PERSISTENCE
    return VolModel((1.0 - p) * level, p * (1.0 - lam), p * lam)


def fit_scale_model(returns: np.ndarray) -> tuple[VolModel | None, str]:
    """The intervals' volatility model and its kind: GARCH(1,1)-t where a stationary fit
    exists, else the EWMA; ``(None, "")`` on too few or flat returns."""
    model = fit_vol_model(returns)
    if model is not None:
        return model, GARCH
    fallback = fit_ewma(returns)
    return fallback, (EWMA if fallback is not None else "")


def one_bar(scale: np.ndarray) -> np.ndarray:
    """The predicted one-bar sd of each row: ``(n,)`` or ``(n, H)`` -> ``(n,)``."""
    return scale[:, 0] if scale.ndim == 2 else scale


@dataclass(frozen=True)
class Buckets:
    """Mondrian score quantiles: ``edges`` ``(B - 1,)`` of the predicted one-bar sd;
    ``quantiles`` ``(B, H)`` of the combined forecast's scores and ``zero`` ``(B, H)`` of the
    zero forecast's (the reference of the recent-score rescaling)."""

    edges: np.ndarray
    quantiles: np.ndarray
    zero: np.ndarray
    rows: tuple[int, ...]
    """Calibration rows per bucket."""

    @classmethod
    def fit(
        cls,
        actual: np.ndarray,
        forecast: np.ndarray,
        scale: np.ndarray,
        coverage: float,
        buckets: int = BUCKETS,
        min_rows: int = MIN_BUCKET_ROWS,
    ) -> Buckets:
        """Edges at quantiles of the calibration rows' one-bar scale, as many buckets as
        ``min_rows`` allows (up to ``buckets``; one: plain split conformal). Tied scales (a
        constant-volatility series) make fewer distinct edges: every bucket keeps at least
        ``min_rows`` rows (or all of them, when there is one)."""
        sigma = one_bar(scale)
        edges = _edges(sigma, max(1, min(buckets, len(sigma) // max(min_rows, 1))), min_rows)
        count = len(edges) + 1
        label = np.searchsorted(edges, sigma)
        zero = np.zeros_like(forecast)
        tables: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        rows = []
        for k in range(count):
            inside = label == k
            for table, guess in zip(tables, (forecast, zero), strict=True):
                table.append(
                    conformal_quantiles(actual[inside], guess[inside], scale[inside], coverage)
                )
            rows.append(int(inside.sum()))
        return cls(edges, np.stack(tables[0]), np.stack(tables[1]), tuple(rows))

    def bucket(self, scale: np.ndarray) -> np.ndarray:
        """Bucket index ``(n,)`` of rows of scale ``(n,)`` / ``(n, H)``: one searchsorted."""
        return np.searchsorted(self.edges, one_bar(scale))

    def lookup(self, scale: np.ndarray) -> np.ndarray:
        """The combined forecast's quantiles ``(n, H)`` for rows of scale ``(n,)`` / ``(n, H)``."""
        return self.quantiles[self.bucket(scale)]

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "mondrian: buckets of the predicted one-bar volatility",
            "edges": self.edges.tolist(),
            "quantiles": self.quantiles.tolist(),
            "zero_quantiles": self.zero.tolist(),
            "rows": list(self.rows),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Buckets | None:
        if not data:
            return None
        return cls(
            np.asarray(data["edges"], dtype=np.float64),
            np.asarray(data["quantiles"], dtype=np.float64),
            np.asarray(data["zero_quantiles"], dtype=np.float64),
            tuple(int(r) for r in data.get("rows", ())),
        )


def _edges(sigma: np.ndarray, count: int, min_rows: int) -> np.ndarray:
    """Distinct quantile edges ``(<= count - 1,)`` of ``sigma`` ``(n,)``, an edge dropped
    while a bucket it bounds holds fewer than ``min_rows`` rows."""
    if count < 2:
        return np.empty(0)
    edges = np.unique(np.quantile(sigma, np.arange(1, count) / count))
    while edges.size:
        counts = np.bincount(np.searchsorted(edges, sigma), minlength=edges.size + 1)
        small = np.flatnonzero(counts < min_rows)
        if small.size == 0:
            break
        edges = np.delete(edges, min(int(small[0]), edges.size - 1))
    return edges.astype(np.float64)


def one_bar_path(log_close: np.ndarray, model: VolModel) -> np.ndarray:
    """The model's one-bar sd of the bar after each ``t``, known at ``t`` (the recursion run
    from the first bar, as ``conformal.model_scores`` runs it): ``(n,)`` -> ``(n,)``."""
    return np.sqrt(np.maximum(model.variance_path(np.diff(log_close)), SCALE_FLOOR**2))


def normalised_scores(
    log_close: np.ndarray, vol_window: int, horizon: int, model: VolModel, buckets: Buckets
) -> np.ndarray:
    """The zero forecast's scores (``conformal.outcome_scores``) over the zero forecast's
    quantile of their own bucket, ``(n,) -> (n, H)``: 0.8-quantiles of these near 1 mean the
    calibration still holds; their recent quantile is the rescaling factor itself."""
    scores = outcome_scores(log_close, vol_window, horizon, model)
    zero = np.maximum(buckets.zero, SCALE_FLOOR)
    return scores / zero[np.searchsorted(buckets.edges, one_bar_path(log_close, model))]


def recent_factor_at_last(
    log_close: np.ndarray,
    vol_window: int,
    horizon: int,
    window: int,
    coverage: float,
    model: VolModel,
    buckets: Buckets,
) -> np.ndarray:
    """The rescaling factor ``(1, H)`` at the last of ``log_close`` ``(n,)``: the ``coverage``
    quantile of the last ``window`` normalised scores whose outcome is known (NaN: too few).
    Only the ``window + horizon - 1`` rows it reads are scored (the serving case)."""
    n = len(log_close)
    if window < 1 or n - 1 - window < vol_window:  # not even h = 1 has its scores: none
        return np.full((1, horizon), np.nan)
    steps = np.arange(1, horizon + 1)
    rows = (n - 1 - steps - window + 1)[:, None] + np.arange(window)[None, :]  # (H, window)
    if rows.min() < vol_window:  # too short for some horizons: the general path says which
        scores = normalised_scores(log_close, vol_window, horizon, model, buckets)
        return recent_quantiles(scores, np.array([n - 1]), max(window, 0), coverage)
    first = int(rows.min())
    variance = model.variance_path(np.diff(log_close))[first:]
    sd = model.term_sd(variance, horizon)  # (rows from first, H)
    zero = np.maximum(buckets.zero, SCALE_FLOOR)
    label = np.searchsorted(buckets.edges, np.sqrt(np.maximum(variance, SCALE_FLOOR**2)))
    local, column = rows - first, (steps - 1)[:, None]
    moves = np.abs(log_close[rows + steps[:, None]] - log_close[rows])
    scores = moves / (sd[local, column] * zero[label[local], column])
    return last_axis_quantile(scores, coverage)[None, :]

"""Combination weights fitted on out-of-fold forecasts, free to shrink to the zero forecast.

``nnls``: per horizon ``h``, non-negative least squares of the outcome on the members'
out-of-fold forecasts, without an intercept and without a sum-to-one constraint. A member
whose forecasts do not co-move with the outcome gets weight 0; when none does, every weight is
0 and the combined forecast is the random walk's (0). Non-negativity keeps a member from being
used "upside down", which would be a bet on its error, not on its skill; no intercept keeps
a drift of the training window from becoming a standing position.

``fixed``: the families' default weights (the seed's 0.30/0.30/0.20/0.20), summing to 1 over
the members, the same at every horizon. It never shrinks; the edge verdict still judges it.

Unhealthy members at serving time contribute nothing (no renormalisation for ``nnls``: the
others' weights were fitted beside it, and scaling them up would be a bet nobody tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from ai_engine.errors import ConfigError

CombinationMethod = Literal["nnls", "fixed"]
COMBINATIONS: tuple[str, ...] = ("nnls", "fixed")


def nnls_weights(forecasts: Mapping[str, np.ndarray], actual: np.ndarray) -> dict[str, np.ndarray]:
    """Per-horizon NNLS weights: ``{member: (n, H)}``, ``actual (n, H)`` -> ``{member: (H,)}``."""
    from scipy.optimize import nnls  # training only: keep it off the serving import

    members = list(forecasts)
    horizon = actual.shape[1]
    weights = {m: np.zeros(horizon) for m in members}
    for h in range(horizon):
        design = np.column_stack([forecasts[m][:, h] for m in members])
        if not np.any(design):
            continue
        solution, _ = nnls(design, actual[:, h])
        for m, w in zip(members, solution, strict=True):
            weights[m][h] = w
    return weights


def fixed_weights(defaults: Mapping[str, float], horizon: int) -> dict[str, np.ndarray]:
    """The default weights renormalised to sum to 1, repeated over the horizon."""
    total = sum(defaults.values())
    if total <= 0:
        raise ConfigError(f"fixed combination needs a positive weight, found {dict(defaults)}")
    return {m: np.full(horizon, w / total) for m, w in defaults.items()}


def fit_weights(
    method: str,
    forecasts: Mapping[str, np.ndarray],
    actual: np.ndarray,
    defaults: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Weights ``{member: (H,)}`` by ``method`` ("nnls" or "fixed")."""
    if method == "nnls":
        return nnls_weights(forecasts, actual)
    if method == "fixed":
        return fixed_weights({m: defaults[m] for m in forecasts}, actual.shape[1])
    raise ConfigError(f"combination must be one of {list(COMBINATIONS)}, found {method!r}")


def combine_forecasts(
    forecasts: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray]
) -> np.ndarray:
    """``sum_m w_m[h] * F_m[:, h]``: ``{member: (n, H)}`` -> ``(n, H)``; absent members add 0."""
    parts = [weights[m][None, :] * f for m, f in forecasts.items() if m in weights]
    if not parts:
        raise ConfigError(f"no member of {sorted(weights)} among the forecasts")
    return np.sum(parts, axis=0)


def cross_fitted(
    method: str,
    forecasts: Mapping[str, np.ndarray],
    actual: np.ndarray,
    segments: np.ndarray,
    defaults: Mapping[str, float],
) -> np.ndarray:
    """The combined out-of-fold forecast ``(n, H)`` where each segment's rows use weights fitted
    on the other segments only, so that the edge test never scores weights on the rows that
    chose them. A single segment is cut into two halves that are fitted on each other."""
    if len(set(segments.tolist())) < 2:
        segments = (np.arange(len(segments)) >= len(segments) // 2).astype(int)
    out = np.zeros_like(actual)
    labels: Sequence[int] = sorted(set(segments.tolist()))
    for label in labels:
        rows = segments == label
        train = {m: f[~rows] for m, f in forecasts.items()}
        weights = fit_weights(method, train, actual[~rows], defaults)
        out[rows] = combine_forecasts({m: f[rows] for m, f in forecasts.items()}, weights)
    return out

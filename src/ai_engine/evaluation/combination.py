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

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np

from ai_engine.errors import ConfigError

CombinationMethod = Literal["nnls", "fixed"]
COMBINATIONS: tuple[str, ...] = ("nnls", "fixed")
Defaults = (
    Mapping[str, float] | Callable[[Mapping[str, np.ndarray], np.ndarray], Mapping[str, float]]
)
"""Fixed weights per member, or a function of the fitting rows' forecasts and outcomes that
gives them (validation-error weights: computed on those rows only)."""


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
    defaults: Defaults,
) -> dict[str, np.ndarray]:
    """Weights ``{member: (H,)}`` by ``method`` ("nnls" or "fixed"); callable ``defaults``
    are computed from these rows only."""
    if method == "nnls":
        return nnls_weights(forecasts, actual)
    if method == "fixed":
        fixed = defaults(forecasts, actual) if callable(defaults) else defaults
        return fixed_weights({m: fixed[m] for m in forecasts}, actual.shape[1])
    raise ConfigError(f"combination must be one of {list(COMBINATIONS)}, found {method!r}")


def combine_forecasts(
    forecasts: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray]
) -> np.ndarray:
    """``sum_m w_m[h] * F_m[:, h]``: ``{member: (n, H)}`` -> ``(n, H)``; absent members add 0."""
    parts = [weights[m][None, :] * f for m, f in forecasts.items() if m in weights]
    if not parts:
        raise ConfigError(f"no member of {sorted(weights)} among the forecasts")
    return np.sum(parts, axis=0)


def time_blocks(segments: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Block labels ``(n,)`` in time order for the expanding-window fit: every inner segment
    is cut into halves when the out-of-fold rows are one contiguous series (at least four
    blocks in all), and kept whole otherwise (rows of several symbols side by side)."""
    labels = sorted(set(segments.tolist()))
    contiguous = len(rows) > 1 and bool(np.all(np.diff(rows) == 1))
    per = max(2, -(-4 // len(labels))) if contiguous else 1
    out = np.zeros(len(segments), dtype=int)
    for k, label in enumerate(labels):
        where = np.flatnonzero(segments == label)
        for j, part in enumerate(np.array_split(where, per)):
            out[part] = k * per + j
    return out


def cross_fitted(
    method: str,
    forecasts: Mapping[str, np.ndarray],
    actual: np.ndarray,
    blocks: np.ndarray,
    defaults: Defaults,
    purge: int | None = None,
) -> np.ndarray:
    """The combined out-of-fold forecast ``(n, H)`` on an expanding window: the rows of block
    ``b`` use weights fitted on the rows of blocks ``< b`` only, less the last ``purge`` rows
    (default ``H``: their targets overlap block ``b``'s outcomes). The first block has no past:
    its forecast is the zero forecast (no position), and the verdict does not score it.
    ``defaults`` may be a function of the fitting rows (validation-error weights)."""
    purge = actual.shape[1] if purge is None else purge
    out = np.zeros_like(actual)
    labels: Sequence[int] = sorted(set(blocks.tolist()))
    for label in labels[1:]:
        rows = blocks == label
        past = np.flatnonzero(blocks < label)
        past = past[: max(len(past) - purge, 0)]
        if len(past) < 2:
            continue
        train = {m: f[past] for m, f in forecasts.items()}
        weights = fit_weights(method, train, actual[past], defaults)
        out[rows] = combine_forecasts({m: f[rows] for m, f in forecasts.items()}, weights)
    return out

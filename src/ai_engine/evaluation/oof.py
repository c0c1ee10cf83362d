"""Out-of-fold forecasts at training time: an inner walk-forward over the training rows.

The rows (bars with inputs and a known ``H``-bar future) are cut like scikit-learn's
``TimeSeriesSplit``: the last ``folds * m`` rows are ``folds`` adjacent test segments of ``m =
n // (folds + 1)`` rows; segment ``k`` is forecast by members fitted on the rows before it, less
a purge of ``H`` rows, so no training target overlaps a bar whose outcome is scored::

    rows: [ train for segment k ........ ] [purge H] [ segment k ] [ segment k+1 ] ...

When the data is too short for ``folds`` segments, fewer are used (the count is recorded);
when not even one fits there are no out-of-fold forecasts and the release has no edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ai_engine.features import ModelInputs

FitPredict = Callable[[ModelInputs, np.ndarray, ModelInputs], dict[str, np.ndarray]]
"""Fit every member on (inputs, targets ``(n, H)``), forecast the second inputs ``(m, H)`` each."""


@dataclass(frozen=True)
class OutOfFold:
    """Forecasts ``{member: (n, H)}`` for rows never seen by the models that made them."""

    rows: np.ndarray
    segments: np.ndarray
    forecasts: dict[str, np.ndarray]
    actual: np.ndarray
    folds: int


def take(inputs: ModelInputs, rows: slice | np.ndarray) -> ModelInputs:
    """The inputs of some rows (positions, not bar numbers)."""
    return ModelInputs(
        inputs.tabular[rows], inputs.sequence[rows], inputs.timestamps[rows], inputs.rows[rows]
    )


def inner_segments(
    n_rows: int, folds: int, purge: int, min_train: int
) -> list[tuple[slice, slice]]:
    """``(train, test)`` row slices of the most folds ``<= folds`` whose first training window
    holds ``min_train`` rows; empty when not even one fits."""
    for k in range(folds, 0, -1):
        m = n_rows // (k + 1)
        first_test = n_rows - k * m
        if m >= 1 and first_test - purge >= min_train:
            return [
                (slice(0, start - purge), slice(start, start + m))
                for start in range(first_test, n_rows, m)
            ]
    return []


def out_of_fold(
    inputs: ModelInputs,
    targets: np.ndarray,
    folds: int,
    min_train: int,
    fit_predict: FitPredict,
) -> OutOfFold | None:
    """Fit and forecast every inner fold; None when the rows are too few for one fold."""
    horizon = targets.shape[1]
    segments = inner_segments(len(inputs), folds, horizon, min_train)
    if not segments:
        return None
    parts: dict[str, list[np.ndarray]] = {}
    rows, labels = [], []
    for label, (train, test) in enumerate(segments):
        forecasts = fit_predict(take(inputs, train), targets[train], take(inputs, test))
        for member, values in forecasts.items():
            parts.setdefault(member, []).append(values)
        index = np.arange(test.start, test.stop)
        rows.append(index)
        labels.append(np.full(len(index), label))
    all_rows = np.concatenate(rows)
    return OutOfFold(
        rows=all_rows,
        segments=np.concatenate(labels),
        forecasts={m: np.concatenate(v) for m, v in parts.items()},
        actual=targets[all_rows],
        folds=len(segments),
    )

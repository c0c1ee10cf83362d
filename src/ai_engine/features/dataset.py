"""Model inputs and targets for chosen bars: the one path shared by training and serving.

For bars ``rows`` of a candle frame: tabular features ``(k, 22)``, return windows
``(k, lookback, channels)`` and, for training, targets ``(k, horizon)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ai_engine.data import Candles
from ai_engine.errors import DataValidationError
from ai_engine.features.last_row import latest_arrays, latest_ohlcv_arrays
from ai_engine.features.spec import FeatureSpec
from ai_engine.features.v1 import compute, return_windows, targets


@dataclass(frozen=True)
class ModelInputs:
    """Inputs of both kinds for ``k`` bars, and the bars' timestamps."""

    tabular: np.ndarray
    sequence: np.ndarray
    timestamps: pd.DatetimeIndex
    rows: np.ndarray

    def of_kind(self, kind: str) -> np.ndarray:
        """``tabular`` -> (k, n_features); ``sequence`` -> (k, lookback, channels)."""
        return self.tabular if kind == "tabular" else self.sequence

    def __len__(self) -> int:
        return len(self.rows)


def usable_rows(n_bars: int, spec: FeatureSpec, with_targets: bool) -> np.ndarray:
    """Bars with settled features (and, for training, a known future of ``horizon`` bars)."""
    end = n_bars - spec.horizon if with_targets else n_bars
    return np.arange(spec.min_history - 1, max(end, spec.min_history - 1))


def model_inputs(frame: pd.DataFrame, spec: FeatureSpec, rows: np.ndarray) -> ModelInputs:
    """Features of the bars ``rows`` of a validated candle frame (uses bars ``<= row`` only)."""
    if len(frame) < spec.min_history:
        raise DataValidationError(
            f"expected at least {spec.min_history} candles for features and windows, "
            f"found {len(frame)}"
        )
    bars = compute(*(frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")))
    tabular = bars.tabular[rows]
    timestamps = frame.index[rows]
    _check_finite(tabular, spec, timestamps)
    sequence = return_windows(bars.returns, rows, spec.lookback)
    return ModelInputs(tabular, sequence, timestamps, rows)


def training_data(frame: pd.DataFrame, spec: FeatureSpec) -> tuple[ModelInputs, np.ndarray]:
    """Inputs and targets ``(k, horizon)`` for bars with settled features and a known future."""
    rows = usable_rows(len(frame), spec, with_targets=True)
    if len(rows) == 0:
        raise DataValidationError(
            f"expected more than {spec.min_history + spec.horizon} candles to train "
            f"(feature history {spec.min_history} + horizon {spec.horizon}), found {len(frame)}"
        )
    inputs = model_inputs(frame, spec, rows)
    return inputs, targets(frame["close"].to_numpy(), spec.horizon)[rows]


def latest_inputs(frame: pd.DataFrame, spec: FeatureSpec) -> ModelInputs:
    """Inputs for the last bar only (serving): ``tabular`` (1, 22), ``sequence``
    (1, lookback, 1).

    A plain window (spec v1, float64 columns, enough candles, finite features) goes through
    ``last_row.latest_arrays``, the array kernel that is bit-identical to ``model_inputs``;
    anything else takes ``model_inputs`` itself, the reference, with its errors.
    """
    fast = latest_arrays(frame, spec)
    if fast is None:
        return model_inputs(frame, spec, np.array([len(frame) - 1]))
    tabular, sequence, timestamps = fast
    return ModelInputs(tabular, sequence, timestamps, np.array([len(frame) - 1]))


def candle_inputs(candles: Candles, spec: FeatureSpec) -> ModelInputs:
    """``latest_inputs`` of validated candles: from their arrays when they came as arrays (the
    service's; no frame is built), else from their frame."""
    plain = candles.plain
    fast = None if plain is None else latest_ohlcv_arrays(*plain, spec)
    if fast is None:
        return latest_inputs(candles.frame, spec)
    tabular, sequence, timestamps = fast
    return ModelInputs(tabular, sequence, timestamps, np.array([len(candles) - 1]))


def _check_finite(tabular: np.ndarray, spec: FeatureSpec, timestamps: pd.DatetimeIndex) -> None:
    bad = ~np.isfinite(tabular)
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise DataValidationError(
            f"feature {spec.names[column]!r} is not finite at {timestamps[row]}; expected finite "
            f"features after {spec.min_history} candles of history"
        )

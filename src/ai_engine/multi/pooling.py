"""Several symbols' training rows, cut by time with a purge per symbol.

A cut at time ``t`` splits every symbol's rows alike: rows at or after ``t`` are tested (or
validated), rows before ``t`` train, less each symbol's last ``H`` rows before ``t`` (their
targets reach past ``t``). Cut points are quantiles of all symbols' timestamps together, so a
fold is one period of calendar time for every symbol: no model is scored on a bar of one
symbol while it trained on a later bar of another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai_engine.errors import DataValidationError
from ai_engine.evaluation.oof import take
from ai_engine.features import CURRENT_SPEC, FeatureSpec, ModelInputs, training_data


@dataclass(frozen=True)
class SymbolRows:
    """One symbol's training rows: inputs, targets ``(n, H)``, and the file they came from."""

    symbol: str
    inputs: ModelInputs
    targets: np.ndarray
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass(frozen=True)
class Split:
    """Row positions of each symbol (in ``parts`` order) on either side of one time cut."""

    train: list[np.ndarray]
    test: list[np.ndarray]

    @property
    def train_rows(self) -> int:
        return sum(len(t) for t in self.train)


def symbol_rows(
    frame: pd.DataFrame, symbol: str, path: Path | None, spec: FeatureSpec = CURRENT_SPEC
) -> SymbolRows:
    """Inputs and targets of one symbol; an error names the file."""
    try:
        inputs, targets = training_data(frame, spec)
    except DataValidationError as exc:
        raise DataValidationError(f"{path or symbol}: {exc}") from exc
    return SymbolRows(symbol, inputs, targets, path)


def concat(parts: Sequence[ModelInputs]) -> ModelInputs:
    """Inputs of several symbols one after the other (``rows`` keep their own bar numbers)."""
    return ModelInputs(
        np.concatenate([p.tabular for p in parts]),
        np.concatenate([p.sequence for p in parts]),
        pd.DatetimeIndex(np.concatenate([p.timestamps.asi8 for p in parts]), tz="UTC"),
        np.concatenate([p.rows for p in parts]),
    )


def gather(
    parts: Sequence[SymbolRows], positions: Sequence[np.ndarray]
) -> tuple[ModelInputs, np.ndarray]:
    """Pooled inputs and targets of the given positions of each symbol."""
    inputs = concat([take(p.inputs, pos) for p, pos in zip(parts, positions, strict=True)])
    targets = np.concatenate([p.targets[pos] for p, pos in zip(parts, positions, strict=True)])
    return inputs, targets


def cut(parts: Sequence[SymbolRows], start: int, stop: int | None, purge: int) -> Split:
    """Train before ``start`` (ns) less ``purge`` rows per symbol; test ``[start, stop)``."""
    train, test = [], []
    for part in parts:
        stamps = part.inputs.timestamps.asi8
        first = int(np.searchsorted(stamps, start, side="left"))
        last = len(stamps) if stop is None else int(np.searchsorted(stamps, stop, side="left"))
        train.append(np.arange(0, max(first - purge, 0)))
        test.append(np.arange(first, last))
    return Split(train, test)


def all_stamps(parts: Sequence[SymbolRows]) -> np.ndarray:
    return np.sort(np.concatenate([p.inputs.timestamps.asi8 for p in parts]))


def final_split(parts: Sequence[SymbolRows], val_fraction: float, purge: int) -> Split:
    """The last ``val_fraction`` of all rows (by time) validate; the rest train, purged."""
    stamps = all_stamps(parts)
    n_val = max(int(len(stamps) * val_fraction), 1)
    return cut(parts, int(stamps[len(stamps) - n_val]), None, purge)


def time_folds(parts: Sequence[SymbolRows], folds: int, purge: int, min_train: int) -> list[Split]:
    """The most inner folds ``<= folds`` (like ``evaluation.oof.inner_segments``, but cut by
    time across symbols) whose first training window holds ``min_train`` rows."""
    stamps = all_stamps(parts)
    n = len(stamps)
    for k in range(folds, 0, -1):
        m = n // (k + 1)
        if m < 1:
            continue
        starts = [int(stamps[n - k * m + j * m]) for j in range(k)]
        splits = [
            cut(parts, start, starts[j + 1] if j + 1 < k else None, purge)
            for j, start in enumerate(starts)
        ]
        if splits[0].train_rows >= min_train:
            return splits
    return []

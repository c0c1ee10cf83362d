"""Several series' training rows, cut by time with a purge per series.

A cut at time ``t`` splits every series' rows alike: rows at or after ``t`` are tested (or
validated), rows before ``t`` train, less each series' last ``H`` rows before ``t`` (their
targets reach past ``t``). Series of one timeframe share a clock: their cut points are
quantiles of all their timestamps together, so a fold is one period of calendar time for every
symbol of that timeframe (no model is scored on a bar of one symbol while it trained on a later
bar of another). Each timeframe is cut on its own clock, at the same fractions of its rows: a
1m file of two days and a 30m file of two months both give every fold their share of rows.
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
    timeframe: str = ""
    """The series' timeframe; series of one timeframe are cut on one calendar clock."""

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
    frame: pd.DataFrame,
    symbol: str,
    path: Path | None,
    spec: FeatureSpec = CURRENT_SPEC,
    *,
    timeframe: str = "",
) -> SymbolRows:
    """Inputs and targets of one series; an error names the file."""
    try:
        inputs, targets = training_data(frame, spec)
    except DataValidationError as exc:
        raise DataValidationError(f"{path or symbol}: {exc}") from exc
    return SymbolRows(symbol, inputs, targets, path, timeframe)


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
    """Train before ``start`` (ns) less ``purge`` rows per series; test ``[start, stop)``."""
    return cut_each(parts, [(start, stop)] * len(parts), purge)


def cut_each(
    parts: Sequence[SymbolRows], bounds: Sequence[tuple[int, int | None]], purge: int
) -> Split:
    """``cut`` with each series' own ``(start, stop)`` (ns), in ``parts`` order."""
    train, test = [], []
    for part, (start, stop) in zip(parts, bounds, strict=True):
        stamps = part.inputs.timestamps.asi8
        first = int(np.searchsorted(stamps, start, side="left"))
        last = len(stamps) if stop is None else int(np.searchsorted(stamps, stop, side="left"))
        train.append(np.arange(0, max(first - purge, 0)))
        test.append(np.arange(first, last))
    return Split(train, test)


def all_stamps(parts: Sequence[SymbolRows]) -> np.ndarray:
    return np.sort(np.concatenate([p.inputs.timestamps.asi8 for p in parts]))


def clocks(parts: Sequence[SymbolRows]) -> list[list[int]]:
    """Positions in ``parts`` of the series of each timeframe (one clock each)."""
    groups: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        groups.setdefault(part.timeframe, []).append(i)
    return list(groups.values())


def final_split(parts: Sequence[SymbolRows], val_fraction: float, purge: int) -> Split:
    """Per timeframe, the last ``val_fraction`` of its rows (by time) validate; the rest train,
    purged."""
    bounds: list[tuple[int, int | None]] = [(0, None)] * len(parts)
    for group in clocks(parts):
        stamps = all_stamps([parts[i] for i in group])
        n_val = max(int(len(stamps) * val_fraction), 1)
        for i in group:
            bounds[i] = (int(stamps[len(stamps) - n_val]), None)
    return cut_each(parts, bounds, purge)


def time_folds(parts: Sequence[SymbolRows], folds: int, purge: int, min_train: int) -> list[Split]:
    """The most inner folds ``<= folds`` (like ``evaluation.oof.inner_segments``, but cut by
    time per timeframe) whose first training window holds ``min_train`` rows."""
    groups = clocks(parts)
    stamps = [all_stamps([parts[i] for i in group]) for group in groups]
    for k in range(folds, 0, -1):
        sizes = [len(s) // (k + 1) for s in stamps]
        if min(sizes) < 1:
            continue
        starts = [
            [int(s[len(s) - k * m + j * m]) for j in range(k)]
            for s, m in zip(stamps, sizes, strict=True)
        ]
        splits = []
        for j in range(k):
            bounds: list[tuple[int, int | None]] = [(0, None)] * len(parts)
            for group, at in zip(groups, starts, strict=True):
                for i in group:
                    bounds[i] = (at[j], at[j + 1] if j + 1 < k else None)
            splits.append(cut_each(parts, bounds, purge))
        if splits[0].train_rows >= min_train:
            return splits
    return []

"""Walk-forward folds and their out-of-sample forecasts.

Rows are bar positions in the candle frame. A row ``r`` has inputs from bars ``<= r`` and a
target from bars ``r+1 .. r+H`` (``H`` = the feature spec's horizon). For fold ``k``::

    bars: ... [train rows ....... r_last] . . . H . . . [c] . . gap . . [test rows of fold k] ...
              training targets use bars <= c = r_last + H (the fold's cut-off)
              test inputs start at bar  c + 1 + gap  (gap >= H)

Every member of fold ``k`` (and its validation-derived weights, if any) is fitted on features
and targets computed from ``frame[: c + 1]`` only, so nothing after the cut-off can reach it.
Test windows of consecutive folds are adjacent; together they cover the last
``folds * test_bars`` rows that have a known 12-bar future. Training windows are expanding
(every row since the first usable one) or rolling (the last ``train_bars`` rows).

The default test window follows scikit-learn's ``TimeSeriesSplit``: the usable rows are cut in
``folds + 1`` parts, so the first fold trains on about as many rows as each fold tests.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ai_engine.backtest.signals import FoldSignals, fold_signals
from ai_engine.ensemble import EnsembleSettings
from ai_engine.errors import ConfigError
from ai_engine.evaluation import Costs, Evidence
from ai_engine.evaluation.oof import take
from ai_engine.features import CURRENT_SPEC, FeatureSpec, model_inputs, training_data
from ai_engine.features.v1 import targets as forward_returns
from ai_engine.models.base import Forecaster, default_members
from ai_engine.training import (
    FittedMembers,
    TrainingPlan,
    fit_members,
    min_rows_to_fit,
)

FoldProgress = Callable[[int, str, str], None]
"""Called as ``progress(fold_index, stage, event)``: stage is a family name or ``"forecast"``,
event ``"start"`` or ``"done"``."""

HoldRule = Literal["signal", "horizon"]
BASELINES: tuple[str, ...] = ("zero", "momentum", "train_mean")


@dataclass(frozen=True)
class BacktestSettings:
    """How to cut the history into folds and how to trade the signals.

    ``test_bars`` None: the TimeSeriesSplit default (see the module docstring).
    ``train_bars`` None: expanding training windows; a number: rolling windows of that many rows.
    ``gap`` None: the horizon; bars between the last training target and the first test input.
    ``fee`` and ``slippage``: fractions of the traded value, charged on every position change.
    ``short``: SELL goes short (else flat). ``hold``: ``"signal"`` follows every bar's signal
    (HOLD is flat); ``"horizon"`` keeps a BUY/SELL position for the decision horizon unless an
    opposite signal comes first. ``momentum_lookback`` None: the horizon.
    ``bars_per_year`` None: derived from the timeframe (see ``simulation.bars_per_year``).
    """

    folds: int = 5
    test_bars: int | None = None
    train_bars: int | None = None
    gap: int | None = None
    fee: float = 0.001
    slippage: float = 0.0005
    short: bool = True
    hold: HoldRule = "signal"
    momentum_lookback: int | None = None
    bars_per_year: float | None = None

    def __post_init__(self) -> None:
        if self.folds < 1:
            raise ConfigError(f"folds must be >= 1, found {self.folds}")
        Costs(self.fee, self.slippage)  # the release's own cost rules
        if self.hold not in ("signal", "horizon"):
            raise ConfigError(f"hold must be 'signal' or 'horizon', found {self.hold!r}")
        for name in ("test_bars", "train_bars", "gap", "momentum_lookback"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 when given, found {value}")
        if self.bars_per_year is not None and not (
            np.isfinite(self.bars_per_year) and self.bars_per_year > 0
        ):
            raise ConfigError(f"bars_per_year must be > 0 when given, found {self.bars_per_year}")

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Fold:
    """One fold, in bar positions: training rows ``[train_start, train_stop)``, the cut-off
    (last bar any training input or target uses) and test rows ``[test_start, test_stop)``."""

    index: int
    train_start: int
    train_stop: int
    cutoff: int
    test_start: int
    test_stop: int

    @property
    def train_rows(self) -> int:
        return self.train_stop - self.train_start

    @property
    def test_rows(self) -> int:
        return self.test_stop - self.test_start

    def to_json(self, index: pd.Index) -> dict[str, Any]:
        return {
            "index": self.index,
            "train": {
                "first_row": self.train_start,
                "last_row": self.train_stop - 1,
                "rows": self.train_rows,
                "start": str(index[self.train_start]),
                "end": str(index[self.train_stop - 1]),
            },
            "cutoff": {"bar": self.cutoff, "time": str(index[self.cutoff])},
            "test": {
                "first_row": self.test_start,
                "last_row": self.test_stop - 1,
                "rows": self.test_rows,
                "start": str(index[self.test_start]),
                "end": str(index[self.test_stop - 1]),
            },
        }


@dataclass(frozen=True)
class Layout:
    """The resolved fold geometry (every default filled in)."""

    folds: tuple[Fold, ...]
    test_bars: int
    gap: int
    train_bars: int | None
    min_train_rows: int
    first_row: int
    last_row: int

    def to_json(self) -> dict[str, Any]:
        return {
            "test_bars": self.test_bars,
            "gap": self.gap,
            "training_window": "expanding" if self.train_bars is None else "rolling",
            "train_bars": self.train_bars,
            "min_train_rows": self.min_train_rows,
            "first_usable_row": self.first_row,
            "last_usable_row": self.last_row,
        }


def plan_folds(
    n_bars: int,
    settings: BacktestSettings,
    spec: FeatureSpec = CURRENT_SPEC,
    val_fraction: float = 0.2,
) -> Layout:
    """Cut ``n_bars`` candles into folds; a setting the data cannot honour is a ConfigError
    that names the limit."""
    horizon = spec.horizon
    gap = horizon if settings.gap is None else settings.gap
    if gap < horizon:
        raise ConfigError(
            f"gap must be at least the horizon ({horizon} bars) so that no training target "
            f"overlaps a test bar, found {gap}"
        )
    core_min = min_rows_to_fit(horizon, val_fraction)
    if settings.train_bars is not None and settings.train_bars < core_min:
        raise ConfigError(
            f"train_bars must be at least {core_min} (the training split needs 100 training and "
            f"8 validation rows after a {horizon}-bar purge at val_fraction {val_fraction}), "
            f"found {settings.train_bars}"
        )
    if settings.test_bars is not None and settings.test_bars < horizon:
        raise ConfigError(
            f"test window of {settings.test_bars} bars is shorter than the horizon "
            f"({horizon} bars); expected test_bars >= {horizon}"
        )
    first = spec.min_history - 1
    last = n_bars - 1 - horizon
    usable = max(last - first + 1, 0)
    need_train = settings.train_bars or core_min

    def test_bars_for(k: int) -> int:
        if settings.test_bars is not None:
            return settings.test_bars
        room = usable - horizon - gap - (settings.train_bars or 0)
        return room // (k + 1) if settings.train_bars is None else room // k

    def fits(k: int) -> bool:
        m = test_bars_for(k)
        return m >= horizon and usable - k * m - gap - horizon >= need_train

    k = settings.folds
    if not fits(k):
        m = test_bars_for(k)
        fitting = [j for j in range(1, k) if fits(j)]
        limit = (
            f"at most {max(fitting)} fold(s) fit"
            if fitting
            else "not even 1 fold fits; give more candles"
        )
        m = max(m, 0)
        window = " (the rolling window)" if settings.train_bars else ""
        raise ConfigError(
            f"{k} folds of {m} test bars do not fit: they need {need_train} training rows for the "
            f"first fold{window} + {horizon} purge + {gap} gap + {k} x {m} test rows = "
            f"{need_train + horizon + gap + k * m} usable rows, with test windows of at least "
            f"{horizon} bars; the data has {usable} usable rows ({n_bars} candles less {first} "
            f"of feature history and {horizon} without a known future); {limit}"
        )
    m = test_bars_for(k)
    folds = []
    for i in range(k):
        test_start = last + 1 - (k - i) * m
        cutoff = test_start - 1 - gap
        train_stop = cutoff - horizon + 1
        train_start = first if settings.train_bars is None else train_stop - settings.train_bars
        folds.append(Fold(i, train_start, train_stop, cutoff, test_start, test_start + m))
    return Layout(tuple(folds), m, gap, settings.train_bars, need_train, first, last)


@dataclass
class FoldResult:
    """What one fold learned: the ensemble settings it used and its validation metrics."""

    fold: Fold
    ensemble: EnsembleSettings
    validation: dict[str, dict[str, Any]]
    fit_seconds: float
    evidence: Evidence
    models: dict[str, Forecaster] | None = None


@dataclass
class WalkForward:
    """Out-of-sample forecasts for every test row of every fold, on exactly the same rows.

    ``forecasts`` maps members, ``"ensemble"`` and the baselines to ``(T, H)`` arrays aligned
    with ``rows`` and ``actual``. ``actions`` are BUY/SELL/HOLD (or REFUSED below the quorum),
    ``reasons`` why a row HOLDs, ``lower`` / ``upper`` the ensemble's interval ``(T, H)``.
    """

    layout: Layout
    folds: list[FoldResult]
    rows: np.ndarray
    fold_of_row: np.ndarray
    timestamps: pd.DatetimeIndex
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    actions: np.ndarray
    votes: dict[str, np.ndarray]
    agreeing: np.ndarray
    healthy: np.ndarray
    required: np.ndarray
    reasons: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    members: tuple[str, ...] = field(default_factory=default_members)


def momentum_forecast(
    close: np.ndarray, rows: np.ndarray, lookback: int, horizon: int
) -> np.ndarray:
    """Trend extrapolation: the mean log return of the last ``lookback`` bars times ``h``."""
    if len(rows) and rows.min() < lookback:
        raise ConfigError(
            f"momentum lookback {lookback} needs rows >= {lookback}, found {rows.min()}"
        )
    log_close = np.log(close)
    drift = (log_close[rows] - log_close[rows - lookback]) / lookback
    return drift[:, None] * np.arange(1, horizon + 1)[None, :]


def fit_fold(
    frame: pd.DataFrame,
    fold: Fold,
    plan: TrainingPlan,
    spec: FeatureSpec,
    progress: FoldProgress | None = None,
) -> tuple[FittedMembers, np.ndarray]:
    """Fit the fold's members (inner folds and evidence included) on ``frame[: cutoff + 1]``
    only; also return the training targets."""
    inputs, targets = training_data(frame.iloc[: fold.cutoff + 1], spec)
    keep = inputs.rows >= fold.train_start
    if int(inputs.rows[-1]) != fold.train_stop - 1 or int(keep.sum()) != fold.train_rows:
        raise ConfigError(f"fold {fold.index}: training rows differ from the layout")
    member_progress = None
    if progress is not None:
        report = progress

        def member_progress(family: str, event: str) -> None:
            report(fold.index, family, event)

    fitted = fit_members(take(inputs, keep), targets[keep], plan, spec, member_progress)
    return fitted, targets[keep]


def run_walkforward(
    frame: pd.DataFrame,
    plan: TrainingPlan,
    settings: BacktestSettings,
    spec: FeatureSpec = CURRENT_SPEC,
    progress: FoldProgress | None = None,
    keep_models: bool = False,
    symbol: str = "backtest",
    timeframe: str = "",
) -> WalkForward:
    """Fit every fold, forecast its test rows, combine members into signals per row."""
    layout = plan_folds(len(frame), settings, spec, plan.val_fraction)
    plan = plan_with_costs(plan, settings)
    horizon = spec.horizon
    lookback = settings.momentum_lookback or horizon
    close = frame["close"].to_numpy()
    index = pd.DatetimeIndex(frame.index)
    truth = forward_returns(close, horizon)
    members = plan.members
    names = (*members, "ensemble", *BASELINES)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    signals: list[FoldSignals] = []
    results: list[FoldResult] = []
    rows_all: list[np.ndarray] = []
    fold_ids: list[np.ndarray] = []
    for fold in layout.folds:
        started = time.perf_counter()
        fitted, train_targets = fit_fold(frame, fold, plan, spec, progress)
        fit_seconds = time.perf_counter() - started
        if progress:
            progress(fold.index, "forecast", "start")
        rows = np.arange(fold.test_start, fold.test_stop)
        inputs = model_inputs(frame, spec, rows)
        member_forecasts = {
            f: m.predict(inputs.of_kind(m.input_kind)) for f, m in fitted.models.items()
        }
        for family, values in member_forecasts.items():
            parts[family].append(values)
        parts["zero"].append(np.zeros((len(rows), horizon)))
        parts["momentum"].append(momentum_forecast(close, rows, lookback, horizon))
        parts["train_mean"].append(np.repeat(train_targets.mean(axis=0)[None, :], len(rows), 0))
        fold_out = fold_signals(
            member_forecasts,
            inputs,
            fitted.ensemble,
            fitted.evidence,
            f"fold{fold.index}",
            np.log(close),
        )
        parts["ensemble"].append(fold_out.combined)
        signals.append(fold_out)
        rows_all.append(rows)
        fold_ids.append(np.full(len(rows), fold.index))
        if progress:
            progress(fold.index, "forecast", "done")
        models = fitted.models if keep_models else None
        results.append(
            FoldResult(fold, fitted.ensemble, fitted.metrics, fit_seconds, fitted.evidence, models)
        )
    rows_cat = np.concatenate(rows_all)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(f, name)) for f in signals])

    return WalkForward(
        layout=layout,
        folds=results,
        rows=rows_cat,
        fold_of_row=np.concatenate(fold_ids),
        timestamps=index[rows_cat],
        actual=truth[rows_cat],
        forecasts={name: np.concatenate(values) for name, values in parts.items()},
        actions=np.asarray(joined("actions"), dtype=object),
        votes={
            f: np.asarray([v for s in signals for v in s.votes[f]], dtype=object) for f in members
        },
        agreeing=joined("agreeing"),
        healthy=joined("healthy"),
        required=joined("required"),
        reasons=np.asarray(joined("reasons"), dtype=object),
        lower=joined("lower"),
        upper=joined("upper"),
        members=members,
    )


def plan_with_costs(plan: TrainingPlan, settings: BacktestSettings) -> TrainingPlan:
    """The plan whose evidence is judged with the backtest's own costs and shorting rule."""
    evaluation = dataclasses.replace(
        plan.evaluation, costs=Costs(settings.fee, settings.slippage), short=settings.short
    )
    return dataclasses.replace(plan, evaluation=evaluation)

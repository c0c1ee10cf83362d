"""Fold layout, bad settings, and the no-look-ahead guarantee of the walk-forward backtest."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ai_engine.backtest import BacktestResult, BacktestSettings, plan_folds, run_backtest
from ai_engine.backtest.signals import REFUSED, fold_signals
from ai_engine.data import make_candles
from ai_engine.errors import ConfigError
from ai_engine.features import SPEC_V1, model_inputs

from synthetic import synthetic_frame

H = SPEC_V1.horizon


@pytest.mark.parametrize("train_bars", [None, 300])
def test_folds_leave_a_gap_of_at_least_the_horizon_and_tile_the_test_period(
    train_bars: int | None,
) -> None:
    n = 3000
    layout = plan_folds(n, BacktestSettings(folds=4, train_bars=train_bars), SPEC_V1)
    folds = layout.folds
    assert len(folds) == 4
    for fold in folds:
        # training targets of the last training row end at the cut-off ...
        assert fold.train_stop - 1 + H == fold.cutoff
        # ... and test inputs start a gap of >= H bars after it
        assert fold.test_start - fold.cutoff - 1 == layout.gap >= H
        assert fold.test_rows == layout.test_bars >= H
        assert fold.train_rows >= layout.min_train_rows
        if train_bars is None:
            assert fold.train_start == SPEC_V1.min_history - 1
        else:
            assert fold.train_rows == train_bars
    for before, after in itertools.pairwise(folds):
        assert after.test_start == before.test_stop  # adjacent, in time order
        assert after.cutoff > before.cutoff
    assert folds[-1].test_stop - 1 == n - 1 - H  # the last row with a known future


def test_default_test_window_is_time_series_split_like() -> None:
    layout = plan_folds(3000, BacktestSettings(folds=5), SPEC_V1)
    first = layout.folds[0]
    assert abs(first.train_rows - layout.test_bars) <= 6  # usable rows cut in folds + 1 parts


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(folds=40), r"40 folds of .* do not fit.*at most \d+ fold\(s\) fit"),
        (dict(folds=3, test_bars=600), r"3 folds of 600 test bars do not fit.*at most 1 fold"),
        (
            dict(test_bars=H - 1),
            rf"test window of {H - 1} bars is shorter than the horizon "
            rf"\({H} bars\); expected test_bars >= {H}",
        ),
        (dict(gap=H - 1), rf"gap must be at least the horizon \({H} bars\)"),
        (dict(train_bars=50), r"train_bars must be at least \d+"),
    ],
)
def test_settings_the_data_cannot_honour_name_the_limit(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_folds(1200, BacktestSettings(**settings), SPEC_V1)


def test_too_little_data_for_one_fold() -> None:
    with pytest.raises(ConfigError, match="not even 1 fold fits; give more candles"):
        plan_folds(400, BacktestSettings(folds=1), SPEC_V1)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(fee=-0.001), r"fee must be a fraction of the traded value within \[0, 0.5\)"),
        (dict(slippage=float("nan")), r"slippage must be a fraction"),
        (dict(folds=0), r"folds must be >= 1, found 0"),
        (dict(hold="forever"), r"hold must be 'signal' or 'horizon'"),
        (dict(bars_per_year=0.0), r"bars_per_year must be > 0"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BacktestSettings(**settings)


def _perturb_after(frame: pd.DataFrame, cutoff: int, seed: int = 99) -> pd.DataFrame:
    """Scramble every bar after ``cutoff``: new price path (valid OHLC) and new volumes."""
    rng = np.random.default_rng(seed)
    changed = frame.copy()
    later = len(frame) - cutoff - 1
    factor = np.exp(np.cumsum(rng.normal(0.0005, 0.01, later)))
    for column in ("open", "high", "low", "close"):
        changed.iloc[cutoff + 1 :, changed.columns.get_loc(column)] *= factor
    changed.iloc[cutoff + 1 :, changed.columns.get_loc("volume")] = rng.uniform(1, 5000, later)
    return changed


def _validation(result: BacktestResult, fold: int) -> dict[str, Any]:
    figures = result.walk.folds[fold].validation
    return {k: {m: v for m, v in row.items() if m != "fit"} for k, row in figures.items()}


def test_perturbing_bars_after_a_cutoff_changes_no_model_and_no_earlier_forecast(
    random_walk_result: BacktestResult, plan_factory: Any
) -> None:
    base = random_walk_result
    frame = synthetic_frame(900, seed=11)
    cutoff = base.walk.layout.folds[-1].cutoff
    changed = run_backtest(
        make_candles(_perturb_after(frame, cutoff), "RW", "5m"),
        plan_factory(),
        BacktestSettings(folds=2),
        keep_models=True,
    )
    assert changed.walk.layout == base.walk.layout
    # every fold ends its training at or before the cut-off: identical models and weights
    for fold in range(2):
        a, b = base.walk.folds[fold], changed.walk.folds[fold]
        assert a.ensemble == b.ensemble
        assert _validation(base, fold) == _validation(changed, fold)
        assert a.models is not None and b.models is not None
        probe = base.walk.rows[base.walk.fold_of_row == fold]
        inputs = model_inputs(frame, SPEC_V1, probe)
        for family, model in a.models.items():
            x = inputs.of_kind(model.input_kind)
            np.testing.assert_array_equal(model.predict(x), b.models[family].predict(x))
    # every forecast made at a bar up to the cut-off is unchanged, whatever comes later
    before = base.walk.rows <= cutoff
    assert before.sum() > 50
    for name, values in base.walk.forecasts.items():
        np.testing.assert_array_equal(values[before], changed.walk.forecasts[name][before])
    np.testing.assert_array_equal(base.walk.actions[before], changed.walk.actions[before])
    # and the perturbation did reach the later forecasts (the test has teeth)
    after = ~before
    assert not np.array_equal(
        base.walk.forecasts["xgboost"][after], changed.walk.forecasts["xgboost"][after]
    )


def test_rows_below_the_quorum_are_refused_not_held(random_walk_result: BacktestResult) -> None:
    """Rows where fewer members than the quorum give a finite forecast are REFUSED (no vote, no
    combined forecast); a row that keeps the quorum still signals, the others are unchanged."""
    walk = random_walk_result.walk
    fold = walk.folds[0]
    in_fold = walk.fold_of_row == fold.fold.index
    rows = walk.rows[in_fold]
    forecasts = {f: walk.forecasts[f][in_fold].copy() for f in walk.members}
    below = np.zeros(len(rows), dtype=bool)
    below[::3] = True
    for family in walk.members[:2]:  # two of four members unhealthy: 2 < quorum 3
        forecasts[family][below, 0] = np.nan
    forecasts[walk.members[2]][1, 5] = np.inf  # one unhealthy member: the quorum still holds
    frame = synthetic_frame(900, seed=11)
    inputs = model_inputs(frame, SPEC_V1, rows)
    log_close = np.log(frame["close"].to_numpy())
    out = fold_signals(forecasts, inputs, fold.ensemble, fold.evidence, "refusals", log_close)

    actions, reasons = np.asarray(out.actions, dtype=object), np.asarray(out.reasons)
    assert REFUSED not in set(walk.actions) and fold.ensemble.min_consensus == 3
    assert set(actions[below]) == {REFUSED} and set(reasons[below]) == {"below_quorum"}
    assert set(np.asarray(out.healthy)[below]) == {2} and np.isnan(out.combined[below]).all()
    assert all(out.votes[f][i] == "" for f in walk.members for i in np.flatnonzero(below))
    assert actions[1] != REFUSED and out.healthy[1] == 3 and out.votes[walk.members[2]][1] == ""
    untouched = ~below
    untouched[1] = False
    assert list(actions[untouched]) == list(walk.actions[in_fold][untouched])
    np.testing.assert_array_equal(
        out.combined[untouched], walk.forecasts["ensemble"][in_fold][untouched]
    )

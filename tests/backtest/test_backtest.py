"""The whole backtest: baselines on the same bars, a planted pattern, a random walk, the report."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from ai_engine.backtest import BacktestResult, BacktestSettings, run_backtest
from ai_engine.backtest.report import summary_tables, write_report
from ai_engine.data import make_candles
from ai_engine.features.v1 import targets

from synthetic import synthetic_frame

if TYPE_CHECKING:
    from backtest.conftest import TimedRun


def test_baselines_are_scored_on_exactly_the_model_bars(random_walk_result: BacktestResult) -> None:
    walk, report = random_walk_result.walk, random_walk_result.report
    frame = synthetic_frame(900, seed=11)
    close = frame["close"].to_numpy()
    assert set(walk.forecasts) == {
        "xgboost",
        "lightgbm",
        "nhits",
        "patchtst",
        "ensemble",
        "zero",
        "momentum",
        "train_mean",
    }
    assert all(v.shape == walk.actual.shape for v in walk.forecasts.values())
    np.testing.assert_array_equal(walk.actual, targets(close, 12)[walk.rows])
    models = report["forecast"]["models"]
    assert report["forecast"]["rows_dropped"] == 0
    assert {m["rows"] for m in models.values()} == {len(walk.rows)}
    assert models["zero"]["mae"] == pytest.approx(np.mean(np.abs(walk.actual)))
    momentum = (np.log(close[walk.rows]) - np.log(close[walk.rows - 12]))[:, None] / 12
    np.testing.assert_allclose(walk.forecasts["momentum"], momentum * np.arange(1, 13))
    # the trading simulation runs over the same bars too, strategies and buy-and-hold alike
    assert {len(s.net) for s in random_walk_result.simulations.values()} == {len(walk.rows)}
    np.testing.assert_array_equal(np.diff(walk.rows), 1)


def test_a_random_walk_has_no_edge_and_never_trades(random_walk_result: BacktestResult) -> None:
    report = random_walk_result.report
    assert [fold["edge"]["enabled"] for fold in report["folds"]] == [False, False]
    assert report["signals"]["hold_share"] == 1.0
    assert set(report["signals"]["reasons"]) <= {"no_edge", "ood_input"}
    assert report["trading"]["ensemble"]["turnover"] == 0
    # nothing learned, nothing pretended: the ensemble is the zero forecast or shrunk towards it
    assert 0.97 < report["forecast"]["models"]["ensemble"]["mae_vs_zero"] <= 1.0 + 1e-12


def test_a_planted_pattern_is_learned_and_beats_the_baselines(
    plan_factory: Any, seasonal_factory: Any
) -> None:
    # 1,300 bars: the first outer fold's training rows are enough for one inner fold
    candles = make_candles(seasonal_factory(1300), "SEASONAL", "5m")
    fast_trees = {"learning_rate": 0.3}
    plan = plan_factory(xgboost=fast_trees, lightgbm=fast_trees)
    report = run_backtest(candles, plan, BacktestSettings(folds=2)).report
    models = report["forecast"]["models"]
    assert all(fold["edge"]["enabled"] for fold in report["folds"])
    assert models["ensemble"]["mae_vs_zero"] < 0.7  # shrunk by weights fitted out of fold
    assert models["ensemble"]["mae"] < min(models[b]["mae"] for b in ("momentum", "train_mean"))
    assert models["ensemble"]["hit_rate_non_overlapping"]["ci_low"] > 0.5
    assert models["ensemble"]["ic"]["rho"] > 0.5
    assert report["trading"]["ensemble"]["total_return"] > 0


def test_the_report_holds_every_figure_and_the_exact_settings(
    random_walk_run: TimedRun, tmp_path: Path
) -> None:
    random_walk_result = random_walk_run.result
    report = random_walk_result.report
    settings = report["settings"]
    assert settings["backtest"] == BacktestSettings(folds=2).to_json()
    assert settings["plan"]["configs"]["nhits"]["mlp_units"] == [32, 32]
    assert settings["layout"]["gap"] == 12 and settings["bars_per_year"] == pytest.approx(
        365.25 * 288
    )
    assert len(report["folds"]) == 2
    walk = random_walk_result.walk
    assert report["forecast"]["actual_up_share"] == pytest.approx(np.mean(walk.actual[:, 11] > 0))
    # the run's own clocks: at least the folds' fitting, at most what the caller measured
    fitting = sum(fold["fit_seconds"] for fold in report["folds"])
    assert 0 < fitting <= report["wall_seconds"] <= random_walk_run.wall_seconds
    assert 0 < report["cpu_seconds"] <= random_walk_run.cpu_seconds
    signals = report["signals"]
    assert sum(signals["counts"].values()) == len(random_walk_result.walk.rows)
    assert 0 <= signals["consensus_reached_rate"] <= 1 and signals["healthy_quorum_rate"] == 1.0
    for name in ("ensemble", "buy_and_hold", "momentum", "xgboost"):
        assert {
            "sharpe",
            "sortino",
            "max_drawdown",
            "turnover",
            "exposure",
            "trades",
            "win_rate",
            "annualised_return",
        } <= set(report["trading"][name])

    paths = write_report(random_walk_result, tmp_path / "out")
    assert json.loads(paths["json"].read_text()) == report
    page = paths["html"].read_text()
    images = page.count('src="data:image/png;base64,')
    assert images == 5
    first = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(first).startswith(b"\x89PNG")
    bars = pd.read_csv(paths["csv"], index_col=0)
    assert len(bars) == len(random_walk_result.walk.rows)
    assert str(summary_tables(report)[0].title).startswith("RW 5m")


def test_a_random_walk_report_says_why_it_never_traded_with_one_set_of_weights(
    random_walk_result: BacktestResult, tmp_path: Path
) -> None:
    report = random_walk_result.report
    verdict, signals = report["verdict"], report["signals"]
    assert verdict["folds_with_edge"] == signals["folds_with_edge"] == 0
    assert verdict["hold_reasons"] == signals["reasons"]
    assert "(0 of 2 fold(s) found an edge out of fold)" in verdict["headline"]
    assert "; no edge at 0.30%; " in verdict["headline"] and verdict["break_even"]["folds"] == 2
    assert verdict["why"].startswith("why: 0 of 2 fold(s) found an edge out of fold")
    assert all(v.startswith("no edge") for v in verdict["fold_verdicts"])
    # the plan names the combination actually fitted; each fold the weights it used, labelled
    plan = report["settings"]["plan"]
    assert plan["combination"] == "nnls" and "weighting" not in plan
    for fold in report["folds"]:
        used = fold["combination"]
        assert set(used["weights"].values()) == {0.0} and "weights" not in fold["ensemble"]
        assert used["label"] == f"nnls weights at h{used['horizon']} (no edge: all 0)"
    page = write_report(random_walk_result, tmp_path / "out")["html"].read_text()
    top = page.split("<h2>")[0]  # before the first section: the headline and its notes
    assert html.escape(verdict["why"]) in top and "fold 0: no edge" in top
    assert "weights used" in page and "(nnls weights at h" in page
    # no direction to score where the forecast is 0: the hit rate is undefined, not 0.000
    assert report["forecast"]["models"]["zero"]["hit_rate"]["rate"] is None

"""The backtest headline: which of ensemble, buy-and-hold and doing nothing made the most money,
folds that never traded, annualised figures from a short period marked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ai_engine.backtest.report import trading_rows
from ai_engine.backtest.verdict import backtest_verdict, verdict_lines

STAMPS = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
FOLDS = np.array([0, 0, 0, 1, 1, 1])


def trading(ensemble: float, buy_and_hold: float, years: float = 5 / 365) -> dict[str, Any]:
    row = {"years": years, "annualised_return": -0.96, "sharpe": -41.6, "sortino": None}
    common = {"max_drawdown": -0.1, "trades": 1, "win_rate": 0.5, "exposure": 1.0, "turnover": 2}
    return {
        "ensemble": {**row, **common, "total_return": ensemble},
        "buy_and_hold": {**row, **common, "total_return": buy_and_hold},
    }


def test_the_best_of_three_after_costs_is_named() -> None:
    trades = np.array([1, 1, 0, -1, 0, 0])
    won = backtest_verdict(trading(0.05, -0.12), STAMPS, FOLDS, trades)
    assert won["best"] == "ensemble" and "ensemble beat both" in won["headline"]
    assert won["headline"].startswith("ensemble +5.00%, buy-and-hold -12.00%, doing nothing")
    lost = backtest_verdict(trading(-0.03, -0.12), STAMPS, FOLDS, trades)
    assert lost["best"] == "doing_nothing" and "doing nothing beat both" in lost["headline"]
    behind = backtest_verdict(trading(0.02, 0.10), STAMPS, FOLDS, trades)
    assert "buy-and-hold beat the ensemble, which still beat doing nothing" in behind["headline"]


def test_folds_that_never_traded_are_named() -> None:
    idle_second = backtest_verdict(trading(0.01, 0.0), STAMPS, FOLDS, np.array([1, 0, 1, 0, 0, 0]))
    assert idle_second["folds_never_traded"] == [1]
    lines = verdict_lines({"verdict": idle_second})
    assert "fold(s) 1: the ensemble never traded (HOLD or flat on every bar)." in lines
    idle = backtest_verdict(trading(0.0, 0.1), STAMPS, FOLDS, np.zeros(6))
    assert idle["folds_never_traded"] == [0, 1]
    assert "the ensemble never traded" in idle["headline"]


def test_annualised_figures_from_a_short_period_are_marked() -> None:
    report: dict[str, Any] = {"trading": trading(-0.05, -0.12)}
    report["verdict"] = backtest_verdict(report["trading"], STAMPS, FOLDS, np.ones(6))
    row = trading_rows(report)[0]
    assert row[1] == "-5.00%" and row[2] == "-96.00%*" and row[3] == "-41.60*" and row[4] == "-"
    assert verdict_lines(report)[-1].startswith("* annualised from 5 days of test bars")
    long = {"trading": trading(-0.05, -0.12, years=2.0)}
    long["verdict"] = backtest_verdict(long["trading"], STAMPS, FOLDS, np.ones(6))
    assert trading_rows(long)[0][2] == "-96.00%"


def test_an_ensemble_that_never_traded_says_why_in_the_headline_and_lines() -> None:
    hold = {"folds_with_edge": 0, "reasons": {"ood_input": 23, "no_edge": 1567}}
    verdicts = ["no edge at any horizon out of fold (best p=0.11, after 0.30% round trip): HOLD"]
    idle = backtest_verdict(trading(0.0, 0.1), STAMPS, FOLDS, np.zeros(6), hold, verdicts * 2)
    assert (
        "the ensemble never traded (0 of 2 fold(s) found an edge out of fold)" in (idle["headline"])
    )
    lines = verdict_lines({"verdict": idle})
    assert lines[1] == (
        "why: 0 of 2 fold(s) found an edge out of fold (no edge: the fold's ensemble only "
        "HOLDs); HOLD bars by reason: no_edge 1567, ood_input 23"
    )
    assert lines[2] == f"fold 0: {verdicts[0]}" and lines[3] == f"fold 1: {verdicts[0]}"
    assert idle["folds_with_edge"] == 0 and idle["hold_reasons"]["no_edge"] == 1567


def fold_edge(enabled: bool, break_even: dict[str, Any] | None) -> dict[str, Any]:
    """A fold's edge object (evidence.verdict_edge) with what the headline reads."""
    costs = {"fee": 0.001, "slippage": 0.0005, "round_trip": 0.003}
    return {"enabled": enabled, "costs": costs, "break_even": break_even}


def test_the_headline_says_at_what_round_trip_the_forecast_would_trade() -> None:
    """No fold trades at 0.30 %; their forecasts would at 0.06 % (h=1) and 0.09 % (h=2): the
    headline quotes the lower, with how many folds have a break-even."""
    edges = [
        fold_edge(False, {"horizon": 2, "round_trip": 0.0009}),
        fold_edge(False, {"horizon": 1, "round_trip": 0.0006}),
    ]
    idle = backtest_verdict(trading(0.0, 0.1), STAMPS, FOLDS, np.zeros(6), edges=edges)
    assert idle["headline"].endswith(
        "so it did no better than doing nothing; no edge at 0.30%; h=1 would trade at a round "
        "trip <= 0.06% (2 of 2 folds, the lowest)."
    )
    assert idle["break_even"] == {
        "round_trip": 0.003,
        "folds": 2,
        "folds_with_edge": 0,
        "folds_priced": 2,
        "horizon": 1,
        "break_even": 0.0006,
    }
    assert verdict_lines({"verdict": idle})[0] == idle["headline"]


def test_the_headline_says_when_no_round_trip_would_do_and_names_folds_with_an_edge() -> None:
    trades = np.array([1, 1, 0, 0, 0, 0])
    mixed = [fold_edge(True, {"horizon": 3, "round_trip": 0.0045}), fold_edge(False, None)]
    won = backtest_verdict(trading(0.05, -0.12), STAMPS, FOLDS, trades, edges=mixed)
    assert won["headline"].endswith(
        "ensemble beat both buy-and-hold and doing nothing; an edge at 0.30% in 1 of 2 fold(s); "
        "h=3 would trade at a round trip <= 0.45% (1 of 2 folds, the lowest)."
    )
    none = [fold_edge(False, None)] * 2
    idle = backtest_verdict(trading(0.0, 0.1), STAMPS, FOLDS, np.zeros(6), edges=none)
    assert idle["headline"].endswith(
        "; no edge at 0.30%; no horizon would trade at a round trip >= 0.01%."
    )
    old = [{"enabled": False, "costs": {"round_trip": 0.003}}]  # a release before issue 24
    before = backtest_verdict(trading(0.0, 0.1), STAMPS, FOLDS, np.zeros(6), edges=old)
    assert before["break_even"] is None and before["headline"].endswith("than doing nothing.")

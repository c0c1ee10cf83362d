"""Trading simulation: costs on every change, annualisation, drawdown, trades."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ai_engine.backtest.simulation import (
    bars_per_year,
    performance,
    positions_from_actions,
    simulate,
    trade_returns,
)

POSITIONS = np.array([0, 1, 1, 1, 0, -1, -1, 0, 1, 1], dtype=float)
RETURNS = np.array([0.01, -0.02, 0.015, 0.003, -0.01, -0.02, 0.004, 0.0, 0.02, -0.005])


def test_doubling_the_fee_lowers_the_net_return_by_fee_times_turnover() -> None:
    fee, slippage = 0.001, 0.0005
    once = simulate(POSITIONS, RETURNS, fee, slippage)
    twice = simulate(POSITIONS, RETURNS, 2 * fee, slippage)
    # entries, exits and the final close-out: 0->1, 1->0, 0->-1, -1->0, 0->1, close 1->0
    assert once.changes.sum() == 6
    np.testing.assert_allclose(once.net - twice.net, fee * once.changes, rtol=0, atol=1e-15)
    assert (once.net.sum() - twice.net.sum()) == pytest.approx(fee * 6, abs=1e-15)
    by_hand = np.prod(1 + POSITIONS * RETURNS - once.changes * (fee + slippage)) - 1
    figures = performance(once, 252, fee, slippage)
    assert figures["total_return"] == pytest.approx(by_hand, abs=1e-15)
    assert figures["costs_paid"] == pytest.approx(6 * (fee + slippage))


def test_a_round_trip_on_a_flat_market_costs_exactly_two_legs() -> None:
    fee, slippage = 0.002, 0.001
    for rate in (fee, 2 * fee):
        sim = simulate(np.ones(3), np.zeros(3), rate, slippage)
        total = performance(sim, 252, rate, slippage)["total_return"]
        assert total == pytest.approx((1 - (rate + slippage)) ** 2 - 1, abs=1e-15)


def test_a_flip_costs_two_units() -> None:
    sim = simulate(np.array([1.0, -1.0]), np.zeros(2), 0.001, 0.0)
    np.testing.assert_array_equal(sim.changes, [1.0, 3.0])  # enter, flip (2), close out (1)


def test_performance_figures_by_hand() -> None:
    net_wanted = np.array([0.1, -0.5, 0.2])
    sim = simulate(np.ones(3), net_wanted, 0.0, 0.0)
    figures = performance(sim, bars_per_year=4.0, fee=0.0, slippage=0.0)
    assert figures["max_drawdown"] == pytest.approx(-0.5)
    assert figures["total_return"] == pytest.approx(1.1 * 0.5 * 1.2 - 1)
    assert figures["sharpe"] == pytest.approx(net_wanted.mean() / net_wanted.std(ddof=1) * 2)
    downside = np.sqrt(np.mean(np.minimum(net_wanted, 0) ** 2))
    assert figures["sortino"] == pytest.approx(net_wanted.mean() / downside * 2)
    assert figures["annualised_return"] == pytest.approx((1.1 * 0.5 * 1.2) ** (4 / 3) - 1)
    assert figures["exposure"] == 1.0 and figures["trades"] == 1 and figures["win_rate"] == 0.0


def test_trades_and_win_rate() -> None:
    positions = np.array([1, 1, 0, -1, -1, 1], dtype=float)
    returns = np.array([0.01, 0.01, 0.0, 0.02, 0.01, -0.01])
    sim = simulate(positions, returns, 0.0, 0.0)
    trades = trade_returns(sim, 0.0, 0.0)
    np.testing.assert_allclose(trades, [1.01**2 - 1, 0.98 * 0.99 - 1, 0.99 - 1])
    figures = performance(sim, 252, 0.0, 0.0)
    assert figures["trades"] == 3 and figures["win_rate"] == pytest.approx(1 / 3)
    assert figures["exposure"] == pytest.approx(5 / 6)
    assert figures["turnover"] == 6  # in, out, in short, flip (2), close out


def test_positions_from_actions() -> None:
    actions = ["BUY", "HOLD", "HOLD", "SELL", "HOLD", "REFUSED", "BUY"]
    np.testing.assert_array_equal(
        positions_from_actions(actions, True, "signal", 2), [1, 0, 0, -1, 0, 0, 1]
    )
    np.testing.assert_array_equal(
        positions_from_actions(actions, False, "signal", 2), [1, 0, 0, 0, 0, 0, 1]
    )
    np.testing.assert_array_equal(
        positions_from_actions(actions, True, "horizon", 2), [1, 1, 0, -1, -1, 0, 1]
    )
    np.testing.assert_array_equal(
        positions_from_actions(actions, True, "horizon", 3), [1, 1, 1, -1, -1, 0, 1]
    )


def test_bars_per_year_follows_the_timeframe_and_the_calendar() -> None:
    crypto = pd.date_range("2024-01-01", periods=10_000, freq="5min", tz="UTC")
    assert bars_per_year("5m", crypto)[0] == pytest.approx(365.25 * 288)
    daily = pd.bdate_range("2020-01-01", periods=300, tz="UTC")
    assert bars_per_year("1d", daily)[0] == 252.0
    assert "no weekend" in bars_per_year("1d", daily)[1]
    hourly = pd.DatetimeIndex(
        [
            t
            for t in pd.date_range("2024-01-01", periods=24 * 60, freq="h", tz="UTC")
            if t.dayofweek < 5
        ]
    )
    assert bars_per_year("1h", hourly)[0] == pytest.approx(252 * 24)
    short_crypto = pd.date_range("2024-01-01", periods=500, freq="5min", tz="UTC")  # a Monday
    assert bars_per_year("5m", short_crypto)[0] == pytest.approx(365.25 * 288)

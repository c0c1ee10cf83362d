"""Trading simulation of signals: positions, costs, equity and the usual performance figures.

A position decided at the close of bar ``t`` (-1, 0 or +1 of equity) earns the simple return
``close[t+1] / close[t] - 1``. Every change of position costs ``|change| * (fee + slippage)`` of
equity at the bar where it happens: entering or leaving costs one unit, a flip long <-> short
two. The last position is closed at the end of the test period, and charged for it. The net
return of a bar is ``position * return - cost``; equity compounds the net returns from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.data import timeframe_delta
from ai_engine.errors import DataValidationError
from ai_engine.evaluation.decision import position_changes


def positions_from_actions(
    actions: Sequence[str], short: bool, hold: str, horizon: int
) -> np.ndarray:
    """BUY -> +1, SELL -> -1 (or 0 without shorting), HOLD and REFUSED -> 0.

    ``hold="signal"``: the position follows every bar's action. ``hold="horizon"``: a BUY or
    SELL stays in force for ``horizon`` bars (itself included) through HOLDs; a new BUY/SELL
    restarts the clock; a REFUSED bar (no signal at all) goes flat at once.
    """
    target = {"BUY": 1.0, "SELL": -1.0 if short else 0.0}
    out = np.zeros(len(actions))
    current, left = 0.0, 0
    for i, action in enumerate(actions):
        if action in target:
            current, left = target[action], horizon
        elif hold == "signal" or action != "HOLD":
            current, left = 0.0, 0
        if hold == "horizon":
            out[i] = current if left > 0 else 0.0
            left -= 1
        else:
            out[i] = current
    return out


def positions_from_votes(votes: Sequence[str], short: bool, hold: str, horizon: int) -> np.ndarray:
    """A single member traded on its own vote: UP is BUY, DOWN is SELL, FLAT is HOLD."""
    action = {"UP": "BUY", "DOWN": "SELL", "FLAT": "HOLD"}
    return positions_from_actions([action.get(v, "REFUSED") for v in votes], short, hold, horizon)


@dataclass(frozen=True)
class Simulation:
    """Per-bar positions, returns, costs and equity of one strategy."""

    positions: np.ndarray
    returns: np.ndarray
    changes: np.ndarray
    costs: np.ndarray
    net: np.ndarray

    @property
    def equity(self) -> np.ndarray:
        """Equity after each bar, starting from 1."""
        return np.cumprod(1.0 + self.net)


def simulate(positions: np.ndarray, returns: np.ndarray, fee: float, slippage: float) -> Simulation:
    """Charge every position change (and the final close-out) ``fee + slippage`` per unit."""
    positions = np.asarray(positions, dtype=float)
    returns = np.asarray(returns, dtype=float)
    if positions.shape != returns.shape or positions.ndim != 1:
        raise DataValidationError(
            "expected positions and returns of one equal 1-d shape, found positions "
            f"{positions.shape} and returns {returns.shape}"
        )
    changes = position_changes(positions)
    costs = changes * (fee + slippage)
    return Simulation(positions, returns, changes, costs, positions * returns - costs)


def trade_returns(sim: Simulation, fee: float, slippage: float) -> np.ndarray:
    """Return of each trade (a run of one non-zero position): the compounded gross return of
    its bars less one unit of cost to enter and one to leave."""
    rate = fee + slippage
    out = []
    start = None
    positions = sim.positions
    for i in range(len(positions) + 1):
        current = positions[i] if i < len(positions) else 0.0
        previous = positions[i - 1] if i > 0 else 0.0
        if current != previous:
            if start is not None:
                gross = np.prod(1.0 + positions[start:i] * sim.returns[start:i])
                out.append(gross * (1.0 - rate) ** 2 - 1.0)
            start = i if current != 0 else None
    return np.asarray(out)


def performance(
    sim: Simulation, bars_per_year: float, fee: float, slippage: float
) -> dict[str, Any]:
    """Total and annualised return, Sharpe and Sortino (annualised), drawdown, turnover, trades."""
    net = sim.net
    bars = len(net)
    years = bars / bars_per_year
    curve = np.r_[1.0, np.cumprod(1.0 + net)]
    end = float(curve[-1])
    drawdown = curve / np.maximum.accumulate(curve) - 1.0
    std = float(np.std(net, ddof=1)) if bars > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(net, 0.0) ** 2))) if bars else 0.0
    mean = float(np.mean(net)) if bars else 0.0
    trades = trade_returns(sim, fee, slippage)
    return {
        "bars": bars,
        "years": years,
        "total_return": end - 1.0,
        "annualised_return": (end ** (1.0 / years) - 1.0) if end > 0 and years > 0 else -1.0,
        "annualised_volatility": std * np.sqrt(bars_per_year),
        "sharpe": mean / std * np.sqrt(bars_per_year) if std > 0 else None,
        "sortino": mean / downside * np.sqrt(bars_per_year) if downside > 0 else None,
        "max_drawdown": float(drawdown.min()),
        "turnover": float(sim.changes.sum()),
        "turnover_per_year": float(sim.changes.sum()) / years if years > 0 else None,
        "costs_paid": float(sim.costs.sum()),
        "exposure": float(np.mean(sim.positions != 0)) if bars else 0.0,
        "long_share": float(np.mean(sim.positions > 0)) if bars else 0.0,
        "short_share": float(np.mean(sim.positions < 0)) if bars else 0.0,
        "trades": len(trades),
        "win_rate": float(np.mean(trades > 0)) if len(trades) else None,
        "mean_trade_return": float(np.mean(trades)) if len(trades) else None,
    }


def drawdown_curve(net: np.ndarray) -> np.ndarray:
    """Drawdown after each bar (0 at a new high, negative below it)."""
    curve = np.r_[1.0, np.cumprod(1.0 + net)]
    return (curve / np.maximum.accumulate(curve) - 1.0)[1:]


def bars_per_year(timeframe: str, index: pd.DatetimeIndex) -> tuple[float, str]:
    """Bars in a year for annualising, and how it was derived.

    Markets that trade every day (crypto: weekend bars present, or less than two weeks of
    data to tell) count 365.25 days of 24 hours. Data without weekend bars over at least two
    weeks is an exchange calendar: 252 days a year, with the median number of bars per day
    for intraday timeframes (e.g. 78 five-minute bars for US equities).
    """
    step = timeframe_delta(timeframe)
    day = pd.Timedelta(days=1)
    span = index[-1] - index[0] if len(index) > 1 else pd.Timedelta(0)
    weekdays_only = span >= pd.Timedelta(days=14) and not (index.dayofweek >= 5).any()
    if not weekdays_only:
        return (
            pd.Timedelta(days=365.25) / step,
            f"365.25 days x {day / step:g} bars of {timeframe} per day (trades every day)",
        )
    if step >= pd.Timedelta(weeks=1):
        return 52.0 * (pd.Timedelta(weeks=1) / step), "52 weeks (no weekend bars)"
    if step >= day:
        return 252.0 * (day / step), f"252 trading days of {timeframe} bars (no weekend bars)"
    per_day = float(pd.Series(1, index=index).groupby(index.normalize()).size().median())
    return 252.0 * per_day, (
        f"252 trading days x {per_day:g} bars per day (median; no weekend bars)"
    )

"""From out-of-fold forecasts to a release's evidence: weights, edge verdict, rule, intervals.

Per horizon ``h`` the cross-fitted combined forecast is tested against the zero forecast
(Clark-West, one-sided, HAC lags ``h - 1``) at a Bonferroni level ``alpha / H`` (twelve
horizons are twelve chances to find an edge by luck). A horizon passes when that test
rejects, its out-of-sample R^2 is positive, the trading rule at ``h`` makes money after
costs on the out-of-fold bars (its mean net bar return is above 0 by the same kind of test at
the same level), and both hold segment by segment (the Clark-West gain is
positive and the rule loses nothing in every inner segment). The decision horizon is the
passing horizon with the best net result per bar; no passing horizon means no edge, and the
signal always HOLDs (``no_edge``).

The entry margin above the round-trip cost is chosen on the out-of-fold bars from
``margins`` (multiples of the round-trip cost): the one whose worst inner segment earns
most; the exit band is ``exit_fraction`` of the entry
band; the minimum hold is ``h`` bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ai_engine.errors import ConfigError
from ai_engine.evaluation.combination import COMBINATIONS
from ai_engine.evaluation.decision import Costs, DecisionRule, net_returns, positions, turnover
from ai_engine.evaluation.edge import clark_west, hac_mean_test, oos_r2
from ai_engine.evaluation.oof import OutOfFold

EDGE_METHOD = "clark-west"


@dataclass(frozen=True)
class EvaluationSettings:
    """How a release earns (or not) the right to trade; part of the training plan."""

    inner_folds: int = 3
    combination: str = "nnls"
    costs: Costs = field(default_factory=Costs)
    alpha: float = 0.05
    coverage: float = 0.8
    vol_window: int = 48
    recent_window: int = 150
    """Bars of known outcomes that rescale the interval (0: no adaptation; conformal.py)."""
    margins: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    exit_fraction: float = 0.0
    short: bool = True
    straddle_gate: bool = False

    def __post_init__(self) -> None:
        if self.inner_folds < 1:
            raise ConfigError(f"inner_folds must be >= 1, found {self.inner_folds}")
        if self.combination not in COMBINATIONS:
            raise ConfigError(
                f"combination must be one of {list(COMBINATIONS)}, found {self.combination!r}"
            )
        if not 0 < self.alpha < 1 or not 0 < self.coverage < 1:
            raise ConfigError(
                f"alpha and coverage must be within (0, 1), found {self.alpha}, {self.coverage}"
            )
        if not self.margins or min(self.margins) < 0 or not 0 <= self.exit_fraction <= 1:
            raise ConfigError(
                f"margins must be >= 0 and exit_fraction within [0, 1], found "
                f"{list(self.margins)} and {self.exit_fraction}"
            )


@dataclass(frozen=True)
class HorizonResult:
    horizon: int
    statistic: float
    p_value: float
    oos_r2: float
    net_return: float
    net_p_value: float
    """One-sided HAC test that the rule's mean net bar return is above 0: a few lucky trades
    are not evidence that it pays."""
    turnover: float
    margin: float
    stable: bool
    """The forecast's gain over zero is positive, and the rule loses money, in no inner
    segment: an edge from one lucky period does not count."""
    passes: bool

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def votes_allow(forecasts: Mapping[str, np.ndarray], step: int, min_consensus: int) -> np.ndarray:
    """Entries the members' agreement permits, ``(n,)`` in {-1, 0, 1} (a veto, never a trigger):
    +1 where at least ``min_consensus`` members forecast up at ``step``, -1 where down."""
    stacked = np.stack([f[:, step] for f in forecasts.values()])
    up = (stacked > 0).sum(axis=0) >= min_consensus
    down = (stacked < 0).sum(axis=0) >= min_consensus
    return up.astype(int) - down.astype(int)


def trade_rule(
    expected: np.ndarray,
    allowed: np.ndarray,
    next_returns: np.ndarray,
    rule: DecisionRule,
    costs: Costs,
) -> tuple[np.ndarray, float]:
    """Net bar returns ``(T,)`` and turnover of ``rule`` over bars in time order."""
    entries = np.array([rule.entry(v) for v in expected]) * (allowed != 0)
    entries = np.where(entries == allowed, entries, 0)
    held = positions(expected, entries, rule)
    return net_returns(held, next_returns, costs), turnover(held)


def best_rule(
    h: int,
    expected: np.ndarray,
    allowed: np.ndarray,
    next_returns: np.ndarray,
    settings: EvaluationSettings,
    segments: np.ndarray,
) -> tuple[DecisionRule, np.ndarray, float, float]:
    """The margin whose worst inner segment earns most at horizon ``h`` (a margin that only
    pays in one period is not chosen; ties go to the wider margin): rule, net bar returns,
    turnover, margin."""
    costs = settings.costs
    best: tuple[DecisionRule, np.ndarray, float, float] | None = None
    best_score = -np.inf
    labels = np.unique(segments)
    for margin in sorted(settings.margins):
        entry = costs.round_trip * (1.0 + margin)
        rule = DecisionRule(h, entry, entry * settings.exit_fraction, h, settings.short)
        net, traded = trade_rule(expected, allowed, next_returns, rule, costs)
        score = min(float(net[segments == k].sum()) for k in labels)
        if best is None or score >= best_score:
            best, best_score = (rule, net, traded, margin), score
    if best is None:  # EvaluationSettings refuses empty margins; this guards the invariant
        raise ConfigError(f"expected at least one decision margin, found {list(settings.margins)}")
    return best


def judge(
    oof: OutOfFold, combined: np.ndarray, settings: EvaluationSettings, min_consensus: int
) -> tuple[list[HorizonResult], DecisionRule | None]:
    """Test every horizon; the rule at the chosen one, or None (no edge)."""
    horizons = combined.shape[1]
    level = settings.alpha / horizons
    next_returns = np.expm1(oof.actual[:, 0])
    results: list[HorizonResult] = []
    rules: dict[int, DecisionRule] = {}
    for h in range(1, horizons + 1):
        actual, forecast = oof.actual[:, h - 1], combined[:, h - 1]
        test = clark_west(actual, forecast, h)
        r2 = oos_r2(actual, forecast)
        allowed = votes_allow(oof.forecasts, h - 1, min_consensus)
        rule, net, traded, margin = best_rule(
            h, forecast, allowed, next_returns, settings, oof.segments
        )
        gain = actual**2 - (actual - forecast) ** 2 + forecast**2
        stable = all(
            gain[oof.segments == k].mean() > 0 and net[oof.segments == k].sum() >= 0
            for k in np.unique(oof.segments)
        )
        total = float(net.sum())
        pays = hac_mean_test(net, h - 1).p_value
        passes = test.p_value < level and r2 > 0 and pays < level and stable
        results.append(
            HorizonResult(
                h, test.statistic, test.p_value, r2, total, pays, traded, margin, stable, passes
            )
        )
        rules[h] = rule
    passing = [r for r in results if r.passes]
    if not passing:
        return results, None
    chosen = max(passing, key=lambda r: r.net_return)
    return results, rules[chosen.horizon]

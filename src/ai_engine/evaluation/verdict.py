"""From out-of-fold forecasts to a release's evidence: weights, edge verdict, rule, intervals.

The combined out-of-fold forecast is built on an expanding window (``cross_fitted``: each
block uses weights fitted on earlier blocks only; the first block is not scored). On the
scored rows every rule, a horizon ``h = 1..H`` times an entry margin of ``margins``
(multiples of the round-trip cost above it; exit band ``exit_fraction`` of the entry band;
minimum hold ``h`` bars), is run after costs. There is an edge when

- Hansen's SPA test rejects, at ``alpha``, that no rule beats doing nothing (one test over
  all rules: the selection of horizon and margin is accounted for), and
- the selection procedure earns more than 0 on blocks it did not see (``nested_net``), and
  the rule chosen on all scored rows earns more than 0.

The served rule is the one with the most net on all scored rows; the printed out-of-fold net
is the nested one. Clark-West against the zero forecast (uniform kernel, HLN) and the
out-of-sample R^2 are reported per horizon as evidence of forecast skill; with
``straddle_gate`` the judged rule vetoes the entries whose interval straddles zero, as served.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ai_engine.errors import ConfigError, InvariantError
from ai_engine.evaluation.combination import COMBINATIONS, time_blocks
from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.edge import clark_west, oos_r2
from ai_engine.evaluation.oof import OutOfFold
from ai_engine.evaluation.selection import break_even, nested_net, run_rule, spa_p_value

EDGE_METHOD = "spa"


@dataclass(frozen=True)
class EvaluationSettings:
    """How a release earns (or not) the right to trade; part of the training plan."""

    inner_folds: int = 3
    combination: str = "nnls"
    costs: Costs = field(default_factory=Costs)
    alpha: float = 0.05
    coverage: float = 0.8
    vol_window: int = 48
    recent_window: int = 500
    """Bars of known outcomes that rescale the interval (0: no adaptation; conformal.py)."""
    margins: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    exit_fraction: float = 0.0
    short: bool = True
    straddle_gate: bool = False
    spa_reps: int = 1000
    """Bootstrap replications of the SPA test."""

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
        if self.spa_reps < 100:
            raise ConfigError(f"spa_reps must be >= 100, found {self.spa_reps}")


@dataclass(frozen=True)
class HorizonResult:
    horizon: int
    statistic: float
    p_value: float
    """Clark-West against the zero forecast, one-sided (uniform kernel, HLN), per horizon."""
    oos_r2: float
    net_return: float
    """Net of the best margin at this horizon on all scored rows (selected: in-sample)."""
    turnover: float
    margin: float
    stable: bool
    """The forecast's gain over zero is positive, and the rule loses nothing, in every
    scored block (reported, not required)."""
    passes: bool
    break_even: float | None = None
    """Largest round trip at which the forecast's rule nets > 0 (``selection.break_even``);
    searched where the Clark-West test finds skill at ``alpha / H``."""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Verdict:
    """The judgement of all rules: per-horizon figures, the chosen rule (None: no edge)."""

    results: list[HorizonResult]
    rule: DecisionRule | None
    spa_p_value: float
    net_return: float
    """Nested: the net of choosing the rule on earlier blocks, scored on later ones."""
    net_bars: int
    net_in_sample: float
    """The chosen rule's net on all scored rows (inflated by the choice)."""
    scored_rows: int
    rules_tested: int
    margin: float | None


def votes_allow(forecasts: Mapping[str, np.ndarray], step: int, min_consensus: int) -> np.ndarray:
    """Entries the members' agreement permits, ``(n,)`` in {-1, 0, 1} (a veto, never a trigger):
    +1 where at least ``min_consensus`` members forecast up at ``step``, -1 where down."""
    stacked = np.stack([f[:, step] for f in forecasts.values()])
    up = (stacked > 0).sum(axis=0) >= min_consensus
    down = (stacked < 0).sum(axis=0) >= min_consensus
    return up.astype(int) - down.astype(int)


def judge(
    oof: OutOfFold,
    combined: np.ndarray,
    settings: EvaluationSettings,
    min_consensus: int,
    half_width: np.ndarray | None = None,
    with_break_even: bool = True,
    always_test: bool = True,
) -> Verdict:
    """Judge every rule on the scored rows of ``combined`` ``(n, H)`` (see the module);
    ``half_width`` ``(n, H)``: the interval's half width, vetoing entries that straddle 0.
    ``always_test`` False (simulations): no SPA p-value (NaN) where the nets already say no."""
    horizons = combined.shape[1]
    blocks = time_blocks(oof.segments, oof.rows)
    scored = blocks > blocks.min()
    next_returns = np.expm1(oof.actual[:, 0])
    costs = settings.costs
    results: list[HorizonResult] = []
    rules: list[tuple[DecisionRule, float]] = []
    columns: list[np.ndarray] = []
    for h in range(1, horizons + 1):
        actual, forecast = oof.actual[:, h - 1], combined[:, h - 1]
        test = clark_west(actual[scored], forecast[scored], h)
        r2 = oos_r2(actual[scored], forecast[scored])
        allowed = votes_allow(oof.forecasts, h - 1, min_consensus)
        if half_width is not None:
            allowed = np.where(np.abs(forecast) > half_width[:, h - 1], allowed, 0)
        best: tuple[float, np.ndarray, float, float] | None = None
        for margin in sorted(settings.margins):
            entry = costs.round_trip * (1.0 + margin)
            rule = DecisionRule(h, entry, entry * settings.exit_fraction, h, settings.short)
            net, traded = run_rule(forecast, allowed, next_returns, rule, costs)
            rules.append((rule, margin))
            columns.append(net[scored])
            if best is None or net[scored].sum() >= best[0]:  # ties: the wider margin
                best = (float(net[scored].sum()), net, traded, margin)
        if best is None:  # EvaluationSettings refuses empty margins
            raise InvariantError("expected at least one margin to judge, found none")
        total, net, traded, margin = best
        gain = actual**2 - (actual - forecast) ** 2 + forecast**2
        stable = all(
            gain[blocks == k].mean() > 0 and net[blocks == k].sum() >= 0
            for k in np.unique(blocks[scored])
        )
        cost_free = None
        if with_break_even and test.p_value < settings.alpha / horizons:
            cost_free = break_even(
                h, forecast, allowed, next_returns, scored, settings.exit_fraction, settings.short
            )
        results.append(
            HorizonResult(
                h,
                test.statistic,
                test.p_value,
                r2,
                total,
                traded,
                margin,
                stable,
                False,
                cost_free,
            )
        )
    nets = np.column_stack(columns)
    nested = nested_net(nets, blocks[scored])
    totals = nets.sum(axis=0)
    best_rule = int(np.argmax(totals))
    pays = nested.net > 0 and totals[best_rule] > 0
    p_spa = spa_p_value(nets, horizons, settings.spa_reps) if pays or always_test else np.nan
    enabled = pays and p_spa < settings.alpha
    rule, margin = rules[best_rule]
    if enabled:
        results = [dataclasses.replace(r, passes=r.horizon == rule.horizon) for r in results]
    return Verdict(
        results,
        rule if enabled else None,
        p_spa,
        nested.net,
        nested.bars,
        float(totals[best_rule]),
        int(scored.sum()),
        int(np.sum(np.ptp(nets, axis=0) > 0)),
        margin if enabled else None,
    )

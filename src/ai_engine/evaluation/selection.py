"""Selection-aware evidence on the trading rules' net returns.

Twelve horizons times a few margins are dozens of rules; the best of them looks good by luck
alone. Two answers to that, both on the rules' out-of-fold net bar returns:

- ``spa_p_value``: Hansen's (2005) test for superior predictive ability (``arch.bootstrap.SPA``,
  stationary bootstrap, studentised, the "consistent" p-value) of every rule against doing
  nothing (net 0). It rejects when the best rule beats flat by more than the best of as many
  rules would by luck.
- ``nested_net``: the net the *selection procedure* earns on bars it did not see. For each
  block ``b`` after the first scored one, the rule is chosen on the blocks before ``b`` (the
  one with the most net there; none when none earned anything) and its net is taken on ``b``.
  The sum is an honest estimate of what choosing the rule this way earns; the net of the
  rule chosen on all bars is not (it is inflated by the choice).

``break_even``: the largest round-trip cost on a grid at which the rule "enter when the
forecast clears the cost" still nets more than 0 out of fold, with at least ``MIN_ENTRIES``
entries. A description of the forecast's economic size, not a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ai_engine.evaluation.decision import Costs, DecisionRule, net_returns, positions, turnover

COST_GRID = tuple(float(c) for c in 0.0001 * 2.0 ** (np.arange(17) / 2.0))
"""Round-trip costs the break-even is searched on: 0.01 % to 2.56 %, factors of sqrt(2)."""
MIN_ENTRIES = 10


@dataclass(frozen=True)
class NestedNet:
    """The net of choosing the rule on earlier blocks and scoring it on the next."""

    net: float
    bars: int
    choices: tuple[int | None, ...]
    """Index of the rule chosen for each scored block (None: flat)."""


def spa_p_value(nets: np.ndarray, block_size: int, reps: int, seed: int = 0) -> float:
    """SPA p-value that some column of ``nets`` ``(n, R)`` has a mean above 0; rules that
    never trade (a constant column) are left out, and none left is p = 1."""
    if nets.ndim != 2 or len(nets) < 3:
        return 1.0
    active = np.ptp(nets, axis=0) > 0
    if not active.any():
        return 1.0
    from arch.bootstrap import SPA  # training only: kept off the serving import

    spa = SPA(
        np.zeros(len(nets)),
        -nets[:, active],
        block_size=max(int(block_size), 1),
        reps=reps,
        bootstrap="stationary",
        studentize=True,
        seed=seed,
    )
    spa.compute()
    return float(spa.pvalues["consistent"])


def nested_net(nets: np.ndarray, blocks: np.ndarray) -> NestedNet:
    """Choose on blocks ``< b``, score on ``b``, for every block but the first:
    ``nets`` ``(n, R)``, ``blocks`` ``(n,)`` labels in time order."""
    labels = sorted(set(blocks.tolist()))
    total, bars = 0.0, 0
    choices: list[int | None] = []
    for i, label in enumerate(labels[1:], start=1):
        past = np.isin(blocks, labels[:i])
        earned = nets[past].sum(axis=0)
        best = int(np.argmax(earned)) if nets.shape[1] else 0
        rows = blocks == label
        bars += int(rows.sum())
        if nets.shape[1] == 0 or earned[best] <= 0:
            choices.append(None)
            continue
        choices.append(best)
        total += float(nets[rows, best].sum())
    return NestedNet(total, bars, tuple(choices))


def run_rule(
    expected: np.ndarray,
    allowed: np.ndarray,
    next_returns: np.ndarray,
    rule: DecisionRule,
    costs: Costs,
) -> tuple[np.ndarray, float]:
    """Net bar returns ``(T,)`` and turnover of ``rule`` over bars in time order; ``allowed``
    ``(T,)``: the entries the vetoes permit (+1, -1, 0)."""
    entries = rule.entries(expected) * (allowed != 0)
    entries = np.where(entries == allowed, entries, 0)
    held = positions(expected, entries, rule)
    return net_returns(held, next_returns, costs), turnover(held)


def break_even(
    horizon: int,
    expected: np.ndarray,
    allowed: np.ndarray,
    next_returns: np.ndarray,
    scored: np.ndarray,
    exit_fraction: float,
    short: bool,
) -> float | None:
    """The largest round trip of ``COST_GRID`` at which entering when ``|expected|`` clears it
    nets more than 0 on the ``scored`` rows with ``MIN_ENTRIES`` entries; None: at no cost."""
    for cost in sorted(COST_GRID, reverse=True):
        rule = DecisionRule(horizon, cost, cost * exit_fraction, horizon, short)
        net, traded = run_rule(expected, allowed, next_returns, rule, Costs(cost / 2, 0.0))
        if traded / 2 >= MIN_ENTRIES and float(net[scored].sum()) > 0:
            return cost
    return None

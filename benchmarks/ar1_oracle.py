"""Can the AR(1) phi 0.1 edge at a 0.04 % round trip be established from the verdict's
out-of-fold bars at all? (issue 24). The arithmetic of the oracle rule, checked by simulation.

    nice -n 5 .venv/bin/python benchmarks/ar1_oracle.py [--bars 400000] [--spa-reps 20]

1. Always in the market on the sign of the true conditional mean ``0.1 r_t``: the gross
   gain per bar is ``0.1 E|r|``; the sign flips on ``1/2 - asin(0.1)/pi`` of the bars, each
   flip trading 2 units at the per-side cost.
2. Every (horizon, margin) rule of the verdict fed the true conditional mean (a noise-free
   member), over ``--bars`` bars: net per 1,000 bars and the t-statistic of its net summed over
   2,500 bars (the verdict's scored rows: six blocks of 500, the first unscored), from the
   spread of 2,500-bar batch sums; then entry / exit bands off the grid, for the best rule of
   that family.
3. ``--spa-reps`` replications of the verdict itself (``judge``) with noise-free members.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from ai_engine.evaluation import calibration
from ai_engine.evaluation.calibration import SIGMA, H, cumulative, draw
from ai_engine.evaluation.combination import cross_fitted, time_blocks
from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.oof import OutOfFold
from ai_engine.evaluation.selection import run_rule
from ai_engine.evaluation.verdict import EvaluationSettings, judge

PHI, COSTS, SCORED = 0.1, Costs(fee=0.0002, slippage=0.0), 2500


def batch_t(net: np.ndarray) -> float:
    """Mean over spread of the sums of consecutive ``SCORED``-bar batches."""
    sums = net[: len(net) // SCORED * SCORED].reshape(-1, SCORED).sum(axis=1)
    return float(sums.mean() / sums.std()) if sums.std() > 0 else 0.0


def band_net(mu: np.ndarray, next_returns: np.ndarray, entry: float, exit_: float) -> np.ndarray:
    """Net per bar of: enter when ``|mu| > entry``, leave when ``position * mu <= exit_``."""
    held, current = np.zeros(len(mu)), 0
    for t, value in enumerate(mu.tolist()):
        if current != 0 and current * value <= exit_:
            current = 0
        if current == 0 and abs(value) > entry:
            current = 1 if value > 0 else -1
        held[t] = current
    return held * next_returns - np.abs(np.diff(held, prepend=0.0)) * COSTS.per_side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=400_000)
    parser.add_argument("--spa-reps", type=int, default=20)
    args = parser.parse_args()
    sd = SIGMA / math.sqrt(1 - PHI**2)
    gross = PHI * sd * math.sqrt(2 / math.pi)
    flips = 0.5 - math.asin(PHI) / math.pi
    cost = flips * 2 * COSTS.per_side
    print(f"1. always in: gross {1e3 * gross:.4f}, cost {1e3 * cost:.4f} ({flips:.3f} flips/bar),")
    print(f"   net {1e3 * (gross - cost):+.4f} per 1,000 bars (simple return units)")
    rng = np.random.default_rng(1)
    returns, truth = draw("ar1", PHI, args.bars + H + 1, rng)
    next_returns = np.expm1(cumulative(returns, args.bars)[:, 0])
    truth = truth[: args.bars]
    every = np.ones(args.bars, dtype=int)
    print("2. the verdict's rules, noise-free forecast: net per 1,000 bars, t over 2,500 bars")
    for h in (1, 2, 3, 6, 12):
        cells = []
        for margin in EvaluationSettings().margins:
            entry = COSTS.round_trip * (1 + margin)
            rule = DecisionRule(h, entry, 0.0, h, True)
            allowed = np.sign(truth[:, h - 1]).astype(int) * every
            net, _ = run_rule(truth[:, h - 1], allowed, next_returns, rule, COSTS)
            cells.append(f"m{margin}: {1e3 * net.mean():.4f} (t {batch_t(net):.2f})")
        print(f"   h={h}: " + "; ".join(cells))
    best = (-np.inf, 0.0, 0.0, 0.0)
    for entry in (0.0001, 0.0002, 0.0003, 0.0004, 0.0006):
        for exit_ in (-0.0002, -0.0001, 0.0, 0.0001):
            if exit_ <= entry:
                net = band_net(truth[:, 0], next_returns, entry, exit_)
                best = max(best, (batch_t(net), entry, exit_, 1e3 * net.mean()))
    print(
        f"   best band at h=1 (entry {best[1]}, exit {best[2]}): {best[3]:.4f} per 1,000 bars, "
        f"t {best[0]:.2f} over 2,500 bars"
    )
    calibration.MEMBER_NOISE = 0.0  # noise-free members, this run only
    p_values = []
    for seed in range(args.spa_reps):
        rng = np.random.default_rng(10_000 + seed)
        returns, truth = draw("ar1", PHI, 3000 + H + 1, rng)
        members = calibration.members_of(truth, float(np.std(returns)), rng)
        actual = cumulative(returns, 3000)
        rows = np.arange(3000)
        oof = OutOfFold(
            rows, rows * 3 // 3000, {m: f[:3000] for m, f in members.items()}, actual, 3
        )
        combined = cross_fitted("nnls", oof.forecasts, actual, time_blocks(oof.segments, rows), {})
        verdict = judge(oof, combined, EvaluationSettings(costs=COSTS), 3, with_break_even=False)
        p_values.append(verdict.spa_p_value)
    found = np.mean(np.array(p_values) < 0.05)
    print(
        f"3. SPA p with noise-free members, {args.spa_reps} replications: median "
        f"{np.median(p_values):.2f}, {100 * found:.0f} % below 0.05"
    )


if __name__ == "__main__":
    main()

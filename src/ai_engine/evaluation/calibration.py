"""Model-free replications of the edge verdict, with known answers (benchmarks and tests).

A replication draws a series of one-bar log returns, builds four "members" that forecast the
true conditional mean of the next ``h`` bars plus their own persistent noise, runs the
verdict on ``oof_rows`` out-of-fold rows (three inner segments) exactly as ``evaluate`` does,
and then trades the served weights and rule on ``test_bars`` fresh bars: the realised net to
compare with the reported (nested) out-of-fold net, and the net of the oracle (the true
conditional mean, best rule chosen on the fresh bars) to say how much of it is captured.

Scenarios: ``random_walk``, ``garch_t`` (GARCH(1,1), Student-t(4) shocks), ``shuffled_eth`` /
``shuffled_ada`` (the repository's 5-minute returns in random order): no edge. ``drift``
(an AR(1) mean, ``phi`` 0.995, of one-bar R^2 ``strength``) and ``ar1`` (``r_t = strength
r_{t-1} + e_t``): an edge of known size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai_engine.errors import ConfigError
from ai_engine.evaluation.combination import (
    combine_forecasts,
    cross_fitted,
    fit_weights,
    time_blocks,
)
from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.evidence import skilled
from ai_engine.evaluation.oof import OutOfFold
from ai_engine.evaluation.selection import run_rule
from ai_engine.evaluation.verdict import EvaluationSettings, judge, votes_allow

H = 12
SIGMA = 0.002
DRIFT_PHI = 0.995
MEMBER_NOISE = 0.1
"""Each member's noise, in one-bar return sd times sqrt(h): forecasts of a realistic size."""
NOISE_PHI = 0.9
NULLS = ("random_walk", "garch_t", "shuffled_eth", "shuffled_ada")
CRYPTO = Path(__file__).resolve().parents[3] / "tests" / "data" / "crypto"


@dataclass(frozen=True)
class Replication:
    """One replication's outcome; nets are sums of simple net bar returns."""

    found: bool
    spa_p_value: float
    horizon: int | None
    reported_net: float
    reported_bars: int
    realised_net: float
    test_bars: int
    oracle_net: float


def draw(
    scenario: str, strength: float, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(n,)`` and the true conditional mean of the next 1..H bars ``(n, H)``."""
    steps = np.arange(1, H + 1)
    if scenario == "random_walk":
        return rng.normal(0.0, SIGMA, n), np.zeros((n, H))
    if scenario == "garch_t":
        return garch_t(n, rng), np.zeros((n, H))
    if scenario.startswith("shuffled_"):
        name = {"shuffled_eth": "ETH_BTC-5m", "shuffled_ada": "ADA_BTC-5m"}[scenario]
        real = crypto_returns(name)
        return rng.permutation(np.resize(real, n)), np.zeros((n, H))
    if scenario == "drift":
        spread = SIGMA * np.sqrt(strength / (1.0 - strength))
        mean = ar1(n, DRIFT_PHI, spread * np.sqrt(1 - DRIFT_PHI**2), rng, spread)
        ahead = np.cumsum(DRIFT_PHI**steps)  # E[sum of the next h means | mu_t]
        return mean + rng.normal(0.0, SIGMA, n), mean[:, None] * ahead[None, :]
    if scenario == "ar1":
        returns = ar1(n, strength, SIGMA, rng, SIGMA)
        return returns, returns[:, None] * np.cumsum(strength**steps)[None, :]
    raise ConfigError(f"scenario: expected a known one, found {scenario!r}")


def ar1(n: int, phi: float, shock: float, rng: np.random.Generator, start: float) -> np.ndarray:
    """``x_t = phi x_{t-1} + e_t``, ``e ~ N(0, shock^2)``, ``x_0 ~ N(0, start^2)``."""
    noise = rng.normal(0.0, shock, n)
    noise[0] = rng.normal(0.0, start)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def garch_t(
    n: int, rng: np.random.Generator, alpha: float = 0.08, beta: float = 0.9, dof: float = 4.0
) -> np.ndarray:
    """GARCH(1,1) returns of unconditional sd ``SIGMA`` with unit-variance t(dof) shocks;
    also ``garch_path`` for the true volatility."""
    return garch_path(n, rng, alpha, beta, dof)[0]


def garch_path(
    n: int, rng: np.random.Generator, alpha: float = 0.08, beta: float = 0.9, dof: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1)-t returns ``(n,)`` and their conditional variances ``(n,)``."""
    omega = SIGMA**2 * (1 - alpha - beta)
    shocks = rng.standard_t(dof, n) / np.sqrt(dof / (dof - 2))
    out, var = np.empty(n), np.empty(n)
    v = SIGMA**2
    for t in range(n):
        var[t] = v
        out[t] = np.sqrt(v) * shocks[t]
        v = omega + alpha * out[t] ** 2 + beta * v
    return out, var


def crypto_returns(name: str) -> np.ndarray:
    """One-bar log returns of a repository candle file, zero moves dropped."""
    import pandas as pd

    close = pd.read_feather(CRYPTO / f"{name}.feather")["close"].to_numpy(dtype=np.float64)
    moves = np.diff(np.log(close))
    return moves[moves != 0]


def cumulative(returns: np.ndarray, rows: int) -> np.ndarray:
    """``(rows, H)``: the sum of the next 1..H returns after each of the first ``rows`` bars."""
    total = np.r_[0.0, np.cumsum(returns)]
    index = np.arange(rows)[:, None] + np.arange(1, H + 1)[None, :]
    return total[index + 1] - total[np.arange(rows) + 1][:, None]


def members_of(truth: np.ndarray, scale: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Four members: ``truth`` ``(n, H)`` plus persistent noise of sd ``scale * sqrt(h)``."""
    width = np.sqrt(np.arange(1, H + 1))[None, :] * scale * MEMBER_NOISE
    out = {}
    for m in range(4):
        noise = ar1(len(truth), NOISE_PHI, np.sqrt(1 - NOISE_PHI**2), rng, 1.0)
        out[f"m{m}"] = truth + noise[:, None] * width
    return out


def replicate(
    scenario: str,
    strength: float,
    costs: Costs,
    seed: int,
    oof_rows: int = 3000,
    test_bars: int = 1500,
    spa_reps: int = 1000,
    always_test: bool = False,
) -> Replication:
    """One replication (see the module); ``always_test``: the SPA p-value even where the
    nets already say no edge (NaN otherwise there)."""
    rng = np.random.default_rng(seed)
    n = oof_rows + test_bars + H + 1
    returns, truth = draw(scenario, strength, n, rng)
    members = members_of(truth, float(np.std(returns)), rng)
    actual = cumulative(returns, n - H - 1)
    oof_part, test_part = slice(0, oof_rows), slice(oof_rows, oof_rows + test_bars)
    rows = np.arange(oof_rows)
    forecasts = {m: f[oof_part] for m, f in members.items()}
    oof = OutOfFold(rows, rows * 3 // oof_rows, forecasts, actual[oof_part], 3)
    settings = EvaluationSettings(costs=costs, spa_reps=spa_reps)
    blocks = time_blocks(oof.segments, oof.rows)
    combined = cross_fitted("nnls", forecasts, oof.actual, blocks, {})
    verdict = judge(oof, combined, settings, 3, with_break_even=False, always_test=always_test)
    fresh = {m: f[test_part] for m, f in members.items()}
    next_returns = np.expm1(actual[test_part, 0])
    realised = 0.0
    if verdict.rule is not None:
        weights = fit_weights("nnls", forecasts, oof.actual, {})
        skill = skilled(verdict, settings.alpha)
        served = combine_forecasts(fresh, {m: np.where(skill, w, 0.0) for m, w in weights.items()})
        step = verdict.rule.horizon - 1
        allowed = votes_allow(fresh, step, 3)
        net, _ = run_rule(served[:, step], allowed, next_returns, verdict.rule, costs)
        realised = float(net.sum())
    return Replication(
        verdict.rule is not None,
        verdict.spa_p_value,
        None if verdict.rule is None else verdict.rule.horizon,
        verdict.net_return,
        verdict.net_bars,
        realised,
        test_bars,
        oracle_net(truth[test_part], next_returns, costs, settings),
    )


def oracle_net(
    truth: np.ndarray, next_returns: np.ndarray, costs: Costs, settings: EvaluationSettings
) -> float:
    """The best rule's net on these bars when the forecast is the true conditional mean."""
    if not np.any(truth):
        return 0.0
    best = 0.0
    everything = np.ones(len(truth), dtype=int)
    for h in range(1, H + 1):
        for margin in settings.margins:
            entry = costs.round_trip * (1 + margin)
            rule = DecisionRule(h, entry, entry * settings.exit_fraction, h, settings.short)
            allowed = np.sign(truth[:, h - 1]).astype(int) * everything
            net, _ = run_rule(truth[:, h - 1], allowed, next_returns, rule, costs)
            best = max(best, float(net.sum()))
    return best


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return float(centre - half), float(centre + half)

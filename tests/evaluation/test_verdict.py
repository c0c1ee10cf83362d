"""The edge verdict on out-of-fold forecasts with known answers (no models: fast, exact)."""

from __future__ import annotations

import numpy as np
import pytest

from ai_engine.evaluation import Costs, EvaluationSettings, OutOfFold
from ai_engine.evaluation.combination import cross_fitted, nnls_weights, time_blocks
from ai_engine.evaluation.edge import clark_west, oos_r2
from ai_engine.evaluation.verdict import judge
from ai_engine.synthetic import one_bar_reversal, random_walk

H = 12


def cumulative_targets(returns: np.ndarray) -> np.ndarray:
    """``(n - H, H)``: the sum of the next 1..H returns after each bar."""
    n = len(returns) - H
    return np.stack([np.cumsum(returns[t + 1 : t + 1 + H]) for t in range(n)])


def oof_of(forecasts: dict[str, np.ndarray], actual: np.ndarray, folds: int = 3) -> OutOfFold:
    rows = np.arange(len(actual))
    return OutOfFold(rows, rows * folds // len(rows), forecasts, actual, folds)


def reversal_case(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """AR(1) returns with phi -0.3: members that know phi (noisily) forecast h=1 only."""
    returns = one_bar_reversal(6000, seed)
    actual = cumulative_targets(returns)
    rng = np.random.default_rng(seed)
    expected_next = -0.3 * returns[: len(actual)]  # E[r_{t+1} | r_t], and ~0 beyond h = 1
    truth = np.repeat(expected_next[:, None], H, axis=1)
    members = {f"m{i}": truth * rng.uniform(0.8, 1.2) for i in range(4)}
    return members, actual


def test_clark_west_rejects_a_real_forecast_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 1, 4000)
    actual = 0.3 * signal + rng.normal(0, 1, 4000)
    assert clark_west(actual, 0.3 * signal, 1).p_value < 1e-6
    assert clark_west(actual, 0.3 * rng.normal(0, 1, 4000), 1).p_value > 0.05
    assert clark_west(actual, np.zeros(4000), 1).p_value == 1.0
    assert oos_r2(actual, np.zeros(4000)) == 0.0


def test_nnls_gives_zero_weight_to_members_without_skill() -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(0, 1, (3000, 2))
    skilled = actual * 0.5 + rng.normal(0, 1, (3000, 2))
    weights = nnls_weights(
        {"skilled": skilled, "noise": rng.normal(0, 1, (3000, 2)), "inverse": -skilled}, actual
    )
    assert np.all(weights["skilled"] > 0.3)
    assert np.all(weights["inverse"] == 0) and np.all(weights["noise"] < 0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_members_on_a_random_walk_have_no_edge(seed: int) -> None:
    returns = random_walk(6000, seed)
    actual = cumulative_targets(returns)
    rng = np.random.default_rng(seed + 10)
    members = {f"m{i}": rng.normal(0, 0.002, actual.shape) for i in range(4)}
    oof = oof_of(members, actual)
    combined = cross_fitted("nnls", members, actual, time_blocks(oof.segments, oof.rows), {})
    verdict = judge(oof, combined, EvaluationSettings(), min_consensus=3)
    assert verdict.rule is None and not any(r.passes for r in verdict.results)


def test_a_one_bar_reversal_is_found_at_h1_with_low_costs_and_not_after_high_ones() -> None:
    members, actual = reversal_case(0)
    oof = oof_of(members, actual)
    combined = cross_fitted("nnls", members, actual, time_blocks(oof.segments, oof.rows), {})
    low = EvaluationSettings(costs=Costs(fee=0.0002, slippage=0.0))
    verdict = judge(oof, combined, low, min_consensus=3)
    results = verdict.results
    assert verdict.rule is not None and verdict.rule.horizon == 1
    assert results[0].p_value < 1e-6 and results[0].oos_r2 > 0.05
    assert verdict.spa_p_value < 0.01 and verdict.net_return > 0
    high = EvaluationSettings(costs=Costs(fee=0.01, slippage=0.0))  # 2 % round trip
    assert judge(oof, combined, high, min_consensus=3).rule is None  # predictable, not after costs


def test_the_veto_stops_entries_members_do_not_agree_on() -> None:
    members, actual = reversal_case(1)
    members = {f: -v if f in ("m1", "m2") else v for f, v in members.items()}
    oof = oof_of(members, actual)
    combined = cross_fitted("nnls", members, actual, time_blocks(oof.segments, oof.rows), {})
    verdict = judge(oof, combined, EvaluationSettings(costs=Costs(0.0002, 0.0)), 3)
    assert verdict.rule is None and verdict.results[0].turnover == 0  # 2 of 4 agree only


def test_the_straddle_gate_is_part_of_the_judged_rule() -> None:
    """With ``straddle_gate`` the served rule holds where the interval straddles 0; the judged
    rule does the same: intervals wider than every forecast leave nothing to trade or find."""
    members, actual = reversal_case(0)
    oof = oof_of(members, actual)
    combined = cross_fitted("nnls", members, actual, time_blocks(oof.segments, oof.rows), {})
    low = EvaluationSettings(costs=Costs(fee=0.0002, slippage=0.0))
    open_ = judge(oof, combined, low, 3, half_width=np.zeros_like(combined))
    assert open_.rule is not None and open_.results[0].turnover > 0
    wide = judge(oof, combined, low, 3, half_width=np.full_like(combined, 1.0))
    assert wide.rule is None and all(r.turnover == 0 for r in wide.results)

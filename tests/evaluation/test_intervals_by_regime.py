"""Interval coverage in calm and in storm: GARCH(1,1)-t returns, nominal 80 %, h = 1 and 12,
measured in each tercile of the true conditional volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ai_engine.evaluation.calibration import CRYPTO, garch_path
from ai_engine.evaluation.conformal import (
    conformal_quantiles,
    fit_vol_model,
    garch_scale,
    interval,
    local_scale,
    outcome_scores,
    recent_quantiles,
)
from ai_engine.evaluation.regimes import (
    EWMA,
    MIN_BUCKET_ROWS,
    Buckets,
    fit_scale_model,
    normalised_scores,
    recent_factor_at_last,
)

H, LOOKBACK, NOMINAL = 12, 96, 0.8


def tercile_coverage(seed: int, use_model: bool) -> np.ndarray:
    """Coverage ``(3, 2)``: calm / middle / turbulent third, at h = 1 and h = 12."""
    rng = np.random.default_rng(seed)
    returns, variance = garch_path(24_000, rng)
    rows = np.arange(LOOKBACK, len(returns) - H)
    windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
    total = np.r_[0.0, np.cumsum(returns)]
    actual = total[rows[:, None] + np.arange(1, H + 1)[None, :] + 1] - total[rows + 1][:, None]
    true_next = variance[rows + 1]  # the variance of the first bar ahead, known at the row
    half = len(rows) // 2
    if use_model:
        model = fit_vol_model(returns[: rows[half]])
        assert model is not None
        scale = garch_scale(windows, model, H)
    else:
        scale = local_scale(windows[:, :, None], 48)
    zero = np.zeros_like(actual)
    q = conformal_quantiles(actual[:half], zero[:half], scale[:half], NOMINAL)
    lower, upper = interval(zero[half:], scale[half:], q)
    inside = (actual[half:] >= lower) & (actual[half:] <= upper)
    regime = np.searchsorted(np.quantile(true_next[half:], [1 / 3, 2 / 3]), true_next[half:])
    return np.array([inside[regime == k][:, [0, H - 1]].mean(axis=0) for k in range(3)])


def test_volatility_term_structure_covers_as_promised_in_every_tercile() -> None:
    """Within 3 points of nominal in every tercile at h = 1 and 12; calm and storm alike."""
    coverage = np.array([tercile_coverage(seed, use_model=True) for seed in (0, 1, 2)])
    assert np.all(np.abs(coverage - NOMINAL) <= 0.03), coverage
    assert abs(np.mean(coverage[:, 2, 1] - coverage[:, 0, 1])) <= 0.02, coverage


def test_the_rms_scale_times_sqrt_h_misses_by_regime_at_long_horizons() -> None:
    """The fault the term structure fixes: at h = 12 calm bars are covered less than turbulent
    ones by several points."""
    coverage = np.array([tercile_coverage(seed, use_model=False) for seed in (0, 1, 2)])
    assert np.mean(coverage[:, 2, 1] - coverage[:, 0, 1]) >= 0.035, coverage


def test_term_structure_with_recent_rescaling_covers_in_every_tercile() -> None:
    """The GARCH term structure with one set of quantiles, rescaled by the zero forecast's last
    500 scores under the same scale (what releases without Mondrian buckets serve; the
    buckets' served path is checked against its general form below). Measured on every
    fourth test row (memory), so the bound is 3.5 points; benchmarks/interval_regimes.py has
    all rows."""
    for seed in (0, 2):
        rng = np.random.default_rng(seed)
        returns, variance = garch_path(24_000, rng)
        log_close = np.r_[0.0, np.cumsum(returns)]
        rows = np.arange(LOOKBACK + 600, len(returns) - H)
        windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
        ahead = rows[:, None] + np.arange(1, H + 1)[None, :] + 1
        actual = log_close[ahead] - log_close[rows + 1][:, None]
        half = len(rows) // 2
        model = fit_vol_model(returns[: rows[half]])
        assert model is not None
        scale = garch_scale(windows, model, H)
        zero = np.zeros_like(actual)
        q = conformal_quantiles(actual[:half], zero[:half], scale[:half], NOMINAL)
        test = np.arange(half, len(rows), 4)
        scores = outcome_scores(log_close[1:], 48, H, model)
        recent = recent_quantiles(scores, rows[test], 500, NOMINAL)
        ratio = np.where(np.isfinite(recent), recent / q[None, :], 1.0)
        inside = np.abs(actual[test]) <= q[None, :] * ratio * scale[test]
        true_next = variance[rows[test] + 1]
        regime = np.searchsorted(np.quantile(true_next, [1 / 3, 2 / 3]), true_next)
        for k in range(3):
            cover = inside[regime == k][:, [0, H - 1]].mean(axis=0)
            assert np.all(np.abs(cover - NOMINAL) <= 0.035), (seed, k, cover)


def test_mondrian_buckets_mend_a_scale_that_is_wrong_by_regime() -> None:
    """A scale that moves with only the square root of the true volatility: one quantile for
    all rows covers calm bars too much and turbulent ones too little; quantiles per bucket of
    the predicted volatility (``regimes.Buckets``) put every tercile within 3 points."""
    rng = np.random.default_rng(0)
    returns, variance = garch_path(24_000, rng)
    rows = np.arange(LOOKBACK, len(returns) - H)
    total = np.r_[0.0, np.cumsum(returns)]
    actual = total[rows[:, None] + np.arange(1, H + 1)[None, :] + 1] - total[rows + 1][:, None]
    true_next = variance[rows + 1]
    scale = true_next**0.25 * 0.05  # (n,): wrong by regime, right in rank
    half, zero = len(rows) // 2, np.zeros_like(actual)
    regime = np.searchsorted(np.quantile(true_next[half:], [1 / 3, 2 / 3]), true_next[half:])
    flat = conformal_quantiles(actual[:half], zero[:half], scale[:half], NOMINAL)
    buckets = Buckets.fit(actual[:half], zero[:half], scale[:half], NOMINAL)
    assert len(buckets.rows) == 5 and min(buckets.rows) >= 300
    for q, within in ((flat[None, :], False), (buckets.lookup(scale[half:]), True)):
        lower, upper = interval(zero[half:], scale[half:], q)
        inside = (actual[half:] >= lower) & (actual[half:] <= upper)
        cover = np.array([inside[regime == k][:, [0, H - 1]].mean(axis=0) for k in range(3)])
        assert np.all(np.abs(cover - NOMINAL) <= 0.03) == within, cover


def test_a_non_stationary_garch_fit_falls_back_to_an_ewma_term_structure() -> None:
    """ADA/BTC 5 m: GARCH(1,1)-t sits on the unit root (the RMS scale was used before); the
    EWMA fallback gives a term structure, and the served intervals (Mondrian quantiles, the
    normalised recent factor) cover within 3 points per tercile of its ex-ante variance."""
    close = pd.read_feather(CRYPTO / "ADA_BTC-5m.feather")["close"].to_numpy(dtype=np.float64)
    returns = np.diff(np.log(close))
    log_close = np.r_[0.0, np.cumsum(returns)]
    rows = np.arange(LOOKBACK + 500 + H, len(returns) - H)
    windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
    ahead = rows[:, None] + np.arange(1, H + 1)[None, :] + 1
    actual = log_close[ahead] - log_close[rows + 1][:, None]
    half = len(rows) // 2
    assert fit_vol_model(returns[: rows[half]]) is None
    model, kind = fit_scale_model(returns[: rows[half]])
    assert model is not None and kind == EWMA and model.alpha + model.beta < 1
    scale = garch_scale(windows, model, H)
    zero = np.zeros_like(actual)
    buckets = Buckets.fit(actual[:half], zero[:half], scale[:half], NOMINAL)
    normalised = normalised_scores(log_close[1:], 48, H, model, buckets)
    factor = recent_quantiles(normalised, rows[half:], 500, NOMINAL)
    rescale = np.where(np.isfinite(factor), factor, 1.0)
    inside = np.abs(actual[half:]) <= buckets.lookup(scale[half:]) * scale[half:] * rescale
    ex_ante = scale[half:, 0]
    regime = np.searchsorted(np.quantile(ex_ante, [1 / 3, 2 / 3]), ex_ante)
    cover = np.array([inside[regime == k][:, [0, H - 1]].mean(axis=0) for k in range(3)])
    assert np.all(np.abs(cover - NOMINAL) <= 0.03), cover


def test_the_served_recent_factor_equals_the_general_path() -> None:
    """``recent_factor_at_last`` (only the scores it reads) = ``recent_quantiles`` of
    ``normalised_scores`` at the last bar; NaN alike when the window is too short."""
    returns, _ = garch_path(4_000, np.random.default_rng(3))
    log_close = np.r_[0.0, np.cumsum(returns)]
    model, _ = fit_scale_model(returns[:2_000])
    assert model is not None
    rows = np.arange(LOOKBACK, 3_900)
    windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
    ahead = rows[:, None] + np.arange(1, H + 1)[None, :] + 1
    actual = log_close[ahead] - log_close[rows + 1][:, None]
    buckets = Buckets.fit(actual, np.zeros_like(actual), garch_scale(windows, model, H), NOMINAL)
    for length in (562, 800, 400, 555, 549):  # whole, longer, none, some horizons short
        tail = log_close[-length:]
        fast = recent_factor_at_last(tail, 48, H, 500, NOMINAL, model, buckets)
        scores = normalised_scores(tail, 48, H, model, buckets)
        general = recent_quantiles(scores, np.array([length - 1]), 500, NOMINAL)
        assert np.array_equal(np.isnan(fast), np.isnan(general))
        assert np.allclose(fast[np.isfinite(fast)], general[np.isfinite(general)], rtol=1e-12)


def test_tied_scales_make_fewer_buckets_never_an_empty_one() -> None:
    """A constant scale (a constant-volatility series: the synthetic random walk's) has one
    distinct edge value: one bucket, not four empty ones (that was a ConfigError in training);
    a scale tied on most rows keeps every bucket at MIN_BUCKET_ROWS or more."""
    rng = np.random.default_rng(11)
    actual = rng.standard_normal((3_000, H)) * 0.01
    constant = np.full((3_000, H), 0.01)
    one = Buckets.fit(actual, np.zeros_like(actual), constant, NOMINAL)
    assert one.edges.size == 0 and one.rows == (3_000,)
    tied = np.where(rng.random(3_000) < 0.7, 0.01, rng.uniform(0.005, 0.03, 3_000))
    some = Buckets.fit(actual, np.zeros_like(actual), np.repeat(tied[:, None], H, 1), NOMINAL)
    assert sum(some.rows) == 3_000 and min(some.rows) >= MIN_BUCKET_ROWS
    assert len(some.rows) == some.edges.size + 1 and np.all(np.diff(some.edges) > 0)

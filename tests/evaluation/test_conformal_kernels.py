"""The serving kernels of the intervals equal the plain definitions bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ai_engine.evaluation.conformal import (
    VolModel,
    garch_scale,
    outcome_scores,
    recent_quantiles,
    recent_quantiles_at_last,
)

MODEL = VolModel(omega=2e-6, alpha=0.08, beta=0.9)


def reference_garch_scale(returns: np.ndarray, model: VolModel, horizon: int) -> np.ndarray:
    """The recursion bar by bar, then the mean-reverting sum over ``h`` bars."""
    out = np.empty((len(returns), horizon))
    for i, row in enumerate(returns):
        variance = model.long_run
        for r in row:
            variance = model.omega + model.alpha * (r * r) + model.beta * variance
        for h in range(1, horizon + 1):
            decay = sum((model.alpha + model.beta) ** k for k in range(h))
            out[i, h - 1] = np.sqrt(h * model.long_run + decay * (variance - model.long_run))
    return out


@pytest.mark.parametrize("rows", [1, 7])
def test_garch_scale_is_the_recursion(rows: int) -> None:
    returns = np.random.default_rng(rows).standard_normal((rows, 256)) * 0.01
    expected = reference_garch_scale(returns, MODEL, 12)
    np.testing.assert_allclose(garch_scale(returns, MODEL, 12), expected, rtol=1e-12)
    one_by_one = np.concatenate([garch_scale(r[None, :], MODEL, 12) for r in returns])
    assert np.array_equal(garch_scale(returns, MODEL, 12), one_by_one)


@pytest.mark.parametrize("model", [None, MODEL])
def test_recent_quantiles_at_last_reads_only_what_the_general_path_reads(
    model: VolModel | None,
) -> None:
    rng = np.random.default_rng(5)
    finite = 0
    for _ in range(120):
        n, window, vol_window = int(rng.integers(20, 700)), int(rng.integers(1, 250)), 48
        log_close = np.cumsum(rng.standard_normal(n) * 0.01)
        fast = recent_quantiles_at_last(log_close, vol_window, 12, window, 0.8, model)
        scores = outcome_scores(log_close, vol_window, 12, model)
        general = recent_quantiles(scores, np.array([n - 1]), window, 0.8)
        assert np.array_equal(fast, general, equal_nan=True)
        finite += int(np.isfinite(fast).all())
    assert 20 < finite < 120  # both the computed and the too-short cases were seen


def test_too_few_bars_for_any_recent_score_is_nan_not_an_error() -> None:
    assert np.isnan(recent_quantiles_at_last(np.zeros(5), 48, 12, 100, 0.8, MODEL)).all()

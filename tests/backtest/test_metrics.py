"""Forecast-quality metrics: binomial interval, Spearman IC, common rows, relative error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ai_engine.backtest.metrics import forecast_quality, hit_rate, information_coefficient


def test_hit_rate_is_scipys_binomial_interval_and_skips_undirected_rows() -> None:
    forecast = np.array([0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2])
    actual = np.array([0.2, 0.1, 0.1, 0.4, -0.3, -0.2, 0.0])
    result = hit_rate(forecast, actual)
    assert (result["hits"], result["n"]) == (3, 5)  # a zero forecast and a zero actual skipped
    ci = stats.binomtest(3, 5).proportion_ci(confidence_level=0.95)
    assert (result["ci_low"], result["ci_high"]) == (ci.low, ci.high)
    assert hit_rate(np.zeros(4), actual[:4])["rate"] is None


def test_information_coefficient_is_spearman() -> None:
    rng = np.random.default_rng(0)
    forecast, actual = rng.normal(size=50), rng.normal(size=50)
    assert information_coefficient(forecast, actual)["rho"] == pytest.approx(
        stats.spearmanr(forecast, actual).statistic
    )
    assert information_coefficient(np.zeros(50), actual)["rho"] is None


def test_every_model_is_scored_on_the_same_rows() -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(0, 0.01, (40, 12))
    good = actual + rng.normal(0, 0.001, (40, 12))
    refused = good.copy()
    refused[[3, 17]] = np.nan  # two bars without an ensemble forecast
    quality = forecast_quality(
        {"good": good, "ensemble": refused, "zero": np.zeros((40, 12))}, actual, decision_horizon=12
    )
    assert quality["rows_scored"] == 38 and quality["rows_dropped"] == 2
    keep = np.ones(40, bool)
    keep[[3, 17]] = False
    zero = quality["models"]["zero"]
    assert zero["mae"] == pytest.approx(np.mean(np.abs(actual[keep])))
    assert zero["mae_vs_zero"] == 1.0 and zero["hit_rate"]["rate"] is None
    assert all(m["rows"] == 38 for m in quality["models"].values())
    assert quality["models"]["good"]["mae_vs_zero"] < 0.2

"""FeatureSpec v1: 22 names in order, values checked against TA-Lib and numpy, no look-ahead."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import talib

from ai_engine.errors import DataValidationError, FeatureSpecMismatchError
from ai_engine.features import SPEC_V1, compute, latest_inputs, targets, training_data
from ai_engine.features.spec import FeatureSpec

from synthetic import synthetic_frame


def _bars(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    return compute(*(frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")))


def test_exactly_22_names_in_order() -> None:
    assert SPEC_V1.names[:6] == tuple(f"log_return_{n}" for n in (1, 2, 3, 5, 10, 20))
    assert len(SPEC_V1.names) == 22 == len(set(SPEC_V1.names))
    assert SPEC_V1.names[-2:] == ("distance_sma_20", "distance_sma_50")
    assert _bars(synthetic_frame(300)).tabular.shape == (300, 22)


def test_values_match_talib_and_numpy_at_a_bar() -> None:
    frame = synthetic_frame(400, seed=3)
    o, h, low, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    row = dict(zip(SPEC_V1.names, _bars(frame).tabular[350], strict=True))
    returns = np.diff(np.log(c))
    assert row["log_return_5"] == pytest.approx(np.log(c[350] / c[345]), rel=1e-12)
    assert row["volatility_20"] == pytest.approx(np.std(returns[350 - 20 : 350]), rel=1e-9)
    assert row["rsi_14"] == pytest.approx(talib.RSI(c, 14)[350] / 100, rel=1e-12)
    _, _, hist = talib.MACD(c, 12, 26, 9)
    assert row["macd_hist"] == pytest.approx(hist[350] / c[350], rel=1e-12)
    upper, _, lower = talib.BBANDS(c, 20, 2.0, 2.0)
    assert row["bollinger_pct_b"] == pytest.approx(
        (c[350] - lower[350]) / (upper[350] - lower[350])
    )
    assert row["atr_14_rel"] == pytest.approx(talib.ATR(h, low, c, 14)[350] / c[350], rel=1e-12)
    window = v[331:351]
    assert row["volume_zscore_20"] == pytest.approx(
        (v[350] - window.mean()) / window.std(), rel=1e-9
    )
    assert row["volume_ratio_5_20"] == pytest.approx(v[346:351].mean() / window.mean(), rel=1e-9)
    assert row["high_low_range"] == pytest.approx((h[350] - low[350]) / c[350])
    assert row["close_open"] == pytest.approx(np.log(c[350] / o[350]))
    assert row["distance_sma_50"] == pytest.approx(c[350] / c[301:351].mean() - 1, rel=1e-9)


def test_no_look_ahead_features_at_t_ignore_later_bars() -> None:
    frame = synthetic_frame(400, seed=1)
    changed = frame.copy()
    rng = np.random.default_rng(9)
    changed.iloc[301:, :4] *= rng.uniform(0.5, 2.0, size=(99, 1))
    changed.iloc[301:, 4] *= 10
    changed["high"] = changed[["open", "high", "close"]].max(axis=1)
    changed["low"] = changed[["open", "low", "close"]].min(axis=1)
    before, after = _bars(frame), _bars(changed)
    np.testing.assert_array_equal(before.tabular[:301], after.tabular[:301])
    np.testing.assert_array_equal(before.returns[:301], after.returns[:301])
    assert not np.allclose(before.tabular[350], after.tabular[350])


def test_serving_with_min_history_matches_training_on_full_history() -> None:
    frame = synthetic_frame(1500, seed=2)
    inputs, _ = training_data(frame, SPEC_V1)
    cut = 1200
    served = latest_inputs(frame.iloc[cut - SPEC_V1.min_history + 1 : cut + 1], SPEC_V1)
    trained_row = int(np.searchsorted(inputs.rows, cut))
    np.testing.assert_allclose(served.tabular[0], inputs.tabular[trained_row], rtol=1e-4, atol=1e-9)
    np.testing.assert_array_equal(served.sequence[0], inputs.sequence[trained_row])


def test_targets_are_cumulative_forward_log_returns() -> None:
    close = np.array([1.0, 2.0, 4.0, 8.0])
    y = targets(close, 2)
    np.testing.assert_allclose(y[0], [np.log(2), np.log(4)])
    assert np.isnan(y[3]).all() and np.isnan(y[2, 1])


def test_sequence_windows_end_at_the_bar() -> None:
    frame = synthetic_frame(300)
    inputs, y = training_data(frame, SPEC_V1)
    assert inputs.sequence.shape == (len(inputs), 96, 1)
    returns = np.diff(np.log(frame["close"].to_numpy()))
    first = inputs.rows[0]
    np.testing.assert_allclose(inputs.sequence[0, :, 0], returns[first - 96 : first])
    assert y.shape == (len(inputs), 12) and np.isfinite(y).all()


def test_too_short_history_is_a_clear_error() -> None:
    with pytest.raises(DataValidationError, match="at least 200 candles"):
        latest_inputs(synthetic_frame(150), SPEC_V1)


SPEC_V1_FINGERPRINT = "9534d9623baff868"
"""Recorded in every bundle trained on v1: a change here makes them all unloadable."""


def test_fingerprint_follows_the_spec() -> None:
    assert SPEC_V1.fingerprint() == SPEC_V1_FINGERPRINT
    params = dict(SPEC_V1.params)
    changes = {
        "version": "v1b",
        "names": (*SPEC_V1.names[:-1], "distance_sma_100"),
        "params": tuple({**params, "rsi": 21}.items()),
        "lookback": 128,
        "horizon": 6,
        "min_history": SPEC_V1.min_history + 1,
        "channels": (*SPEC_V1.channels, "volume"),
    }
    assert set(changes) == {f.name for f in dataclasses.fields(FeatureSpec)}  # every field
    changed = {SPEC_V1.fingerprint()} | {
        dataclasses.replace(SPEC_V1, **{name: value}).fingerprint()
        for name, value in changes.items()
    }
    assert len(changed) == 1 + len(changes)  # each change gives a fingerprint of its own
    swapped = dataclasses.replace(
        SPEC_V1, names=(SPEC_V1.names[1], SPEC_V1.names[0], *SPEC_V1.names[2:])
    )
    assert swapped.fingerprint() != SPEC_V1.fingerprint()  # the order of the columns counts
    # an equal spec built anew (from its JSON, parameters listed in another order) agrees
    data = SPEC_V1.to_json()
    rebuilt = FeatureSpec(
        version=data["version"],
        names=tuple(data["names"]),
        params=tuple(reversed(list(data["params"].items()))),
        lookback=data["lookback"],
        horizon=data["horizon"],
        min_history=data["min_history"],
        channels=tuple(data["channels"]),
    )
    assert rebuilt is not SPEC_V1 and rebuilt.fingerprint() == SPEC_V1_FINGERPRINT
    other = dataclasses.replace(SPEC_V1, names=changes["names"])
    with pytest.raises(FeatureSpecMismatchError, match="21:distance_sma_50!=distance_sma_100"):
        SPEC_V1.check_matches(other.to_json(), other.fingerprint(), "bundle")
    longer = dataclasses.replace(SPEC_V1, lookback=128)
    with pytest.raises(FeatureSpecMismatchError, match="lookback: running 96 vs bundle 128"):
        SPEC_V1.check_matches(longer.to_json(), longer.fingerprint(), "bundle")

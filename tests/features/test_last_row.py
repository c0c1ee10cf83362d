"""The last-row kernel equals the reference (``model_inputs`` over the window) bit for bit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ai_engine.data import Candles
from ai_engine.errors import DataValidationError
from ai_engine.features import SPEC_V1, ModelInputs, candle_inputs, latest_inputs
from ai_engine.features.dataset import model_inputs
from ai_engine.features.last_row import last_row, latest_arrays

from synthetic import synthetic_frame

CRYPTO = Path(__file__).parents[1] / "data" / "crypto"


def _reference(frame: pd.DataFrame) -> ModelInputs:
    """Today's serving result: every bar's features over the window, the last row kept."""
    return model_inputs(frame, SPEC_V1, np.array([len(frame) - 1]))


def _assert_identical(frame: pd.DataFrame) -> None:
    """The kernel takes the window (not the fallback) and equals the reference exactly."""
    assert latest_arrays(frame, SPEC_V1) is not None
    ref, got = _reference(frame), latest_inputs(frame, SPEC_V1)
    assert got.tabular.shape == (1, 22) and got.tabular.dtype == np.float64
    assert got.sequence.shape == (1, SPEC_V1.lookback, 1)
    np.testing.assert_array_equal(got.tabular, ref.tabular, strict=True)
    np.testing.assert_array_equal(got.sequence, ref.sequence, strict=True)
    np.testing.assert_array_equal(got.rows, ref.rows, strict=True)
    assert got.timestamps.equals(ref.timestamps)
    assert got.timestamps.freq == ref.timestamps.freq and got.timestamps.tz == ref.timestamps.tz
    assert got.sequence.flags.c_contiguous and got.sequence.base is None  # a copy, not a view
    _assert_identical_from_arrays(frame, ref)


def _assert_identical_from_arrays(frame: pd.DataFrame, ref: ModelInputs) -> None:
    """Candles that came as arrays (the service's) give the same inputs, without a frame."""
    arrays = (frame.index.asi8.copy(), frame.to_numpy(np.float64).copy())
    candles = Candles(None, "S", "1h", arrays=arrays)
    got = candle_inputs(candles, SPEC_V1)
    assert "frame" not in candles.__dict__  # the frame was never built
    np.testing.assert_array_equal(got.tabular, ref.tabular, strict=True)
    np.testing.assert_array_equal(got.sequence, ref.sequence, strict=True)
    np.testing.assert_array_equal(got.rows, ref.rows, strict=True)
    assert got.timestamps.equals(ref.timestamps) and str(got.timestamps.tz) == "UTC"


def _candles(name: str) -> pd.DataFrame:
    return pd.read_feather(CRYPTO / name).set_index("date")


@pytest.mark.parametrize("name", ["ETH_BTC-5m.feather", "ADA_BTC-5m.feather"])
def test_bit_identical_on_200_random_windows_of_real_candles(name: str) -> None:
    candles = _candles(name)
    rng = np.random.default_rng(26)
    for _ in range(200):
        n = int(rng.integers(SPEC_V1.min_history, 700))
        start = int(rng.integers(0, len(candles) - n))
        _assert_identical(candles.iloc[start : start + n])


@pytest.mark.parametrize("seed", range(20))
def test_bit_identical_on_synthetic_walks_at_several_price_scales(seed: int) -> None:
    frame = synthetic_frame(256 + 37 * seed, seed=seed)
    scale = 10.0 ** (seed % 7 * 2 - 6)  # 1e-6 .. 1e6
    frame[["open", "high", "low", "close"]] *= scale
    _assert_identical(frame)


def test_minimum_window_length_and_one_less() -> None:
    frame = synthetic_frame(400, seed=4)
    _assert_identical(frame.iloc[-SPEC_V1.min_history :])
    short = frame.iloc[-SPEC_V1.min_history + 1 :]
    assert latest_arrays(short, SPEC_V1) is None
    with pytest.raises(DataValidationError, match="expected at least 200 candles"):
        latest_inputs(short, SPEC_V1)


def test_gaps_in_the_timestamps() -> None:
    frame = synthetic_frame(600, seed=5)
    rng = np.random.default_rng(5)
    keep = np.sort(rng.choice(len(frame), size=300, replace=False))
    gappy = frame.iloc[keep]
    assert gappy.index.freq is None
    _assert_identical(gappy)


def test_flat_prices_and_zero_volume() -> None:
    frame = synthetic_frame(256, seed=6)
    flat = frame.copy()
    flat[["open", "high", "low", "close"]] = 1.2345
    _assert_identical(flat)  # zero returns, zero Bollinger width (pct_b 0.5), RSI and ATR at 0
    flat["volume"] = 0.0
    _assert_identical(flat)  # zero volume: z-score 0, ratio 1
    quiet_end = frame.copy()
    quiet_end.iloc[-60:, :4] = quiet_end["close"].iloc[-61]
    quiet_end.iloc[-30:, 4] = 0.0
    _assert_identical(quiet_end)  # running sums over a flat tail that followed a walk
    spike = flat.copy()
    spike.iloc[-1, [1, 3]] = 2.0  # a last bar that jumps out of a flat window
    spike.iloc[-1, 4] = 5.0
    _assert_identical(spike)


def test_windows_with_a_freq_and_with_other_names() -> None:
    frame = synthetic_frame(300, seed=7)
    assert frame.index.freq is not None
    _assert_identical(frame)  # the reference's timestamps have no freq: neither have ours
    _assert_identical(frame.rename_axis("time"))
    rows = pd.DataFrame(frame.to_numpy().copy(order="C"), index=frame.index, columns=frame.columns)
    _assert_identical(rows)  # built from one (n, 5) array, as candle_arrays builds it
    split = pd.DataFrame(index=frame.index)
    for name in frame.columns:  # one block per column
        split[name] = frame[name].to_numpy().copy()
    _assert_identical(split)


def test_frames_that_are_not_plain_take_the_reference_path() -> None:
    frame = synthetic_frame(300, seed=8)
    reordered = frame[["close", "open", "high", "low", "volume"]]
    extra = frame.assign(trades=1.0)
    integer_volume = frame.assign(volume=frame["volume"].round().astype(np.int64))
    for other in (reordered, extra, integer_volume):
        assert latest_arrays(other, SPEC_V1) is None
    for other in (reordered, extra):
        np.testing.assert_array_equal(
            latest_inputs(other, SPEC_V1).tabular, latest_inputs(frame, SPEC_V1).tabular
        )
    with pytest.raises(Exception, match="double"):  # TA-Lib's own error, as before
        latest_inputs(integer_volume, SPEC_V1)
    other_spec = dataclasses.replace(SPEC_V1, lookback=48)
    assert latest_arrays(frame, other_spec) is None
    assert latest_inputs(frame, other_spec).sequence.shape == (1, 48, 1)


def test_a_feature_that_is_not_finite_raises_the_reference_error() -> None:
    frame = synthetic_frame(300, seed=9)
    frame.iloc[-1, 3] = np.nan  # not a validated frame: only the reference's error is checked
    assert latest_arrays(frame, SPEC_V1) is None
    with pytest.raises(DataValidationError) as fast:
        latest_inputs(frame, SPEC_V1)
    with pytest.raises(DataValidationError) as ref:
        _reference(frame)
    assert str(fast.value) == str(ref.value) and "is not finite at" in str(fast.value)
    arrays = (frame.index.asi8.copy(), frame.to_numpy(np.float64).copy())
    with pytest.raises(DataValidationError) as from_arrays:
        candle_inputs(Candles(None, "S", "1h", arrays=arrays), SPEC_V1)
    assert str(from_arrays.value) == str(ref.value)


def test_kernel_on_plain_arrays() -> None:
    frame = synthetic_frame(256, seed=10)
    o, h, low, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    tabular, returns = last_row(o, h, low, c, v, lookback=SPEC_V1.lookback)
    ref = _reference(frame)
    np.testing.assert_array_equal(tabular, ref.tabular[0], strict=True)
    np.testing.assert_array_equal(returns, ref.sequence[0, :, 0], strict=True)

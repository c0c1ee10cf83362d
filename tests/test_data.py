"""Candle loading and validation: every bad input is a DataValidationError naming the problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ai_engine.data import (
    Candles,
    ValidationSettings,
    infer_timeframe,
    load_candles,
    make_candles,
    normalise_frame,
)
from ai_engine.errors import DataValidationError, InvariantError

from synthetic import synthetic_frame


def test_loads_freqtrade_feather_with_symbol_and_timeframe(eth_btc_path: Path) -> None:
    candles = load_candles(eth_btc_path)
    assert (candles.symbol, candles.timeframe) == ("ETH_BTC", "5m")
    assert len(candles.frame) == 5760
    assert list(candles.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(candles.frame.index.tz) == "UTC"


def test_csv_headers_are_case_insensitive_and_date_column_found(tmp_path: Path) -> None:
    frame = synthetic_frame(50).reset_index()
    frame.columns = ["Timestamp", "OPEN", "High", "low", "Close", "Volume"]
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    candles = load_candles(path, symbol="X")
    assert candles.timeframe == "5m" and len(candles.frame) == 50


def test_csv_with_unnamed_index_column_and_epoch_milliseconds(tmp_path: Path) -> None:
    frame = synthetic_frame(50)
    frame.index = frame.index.asi8 // 1_000_000
    path = tmp_path / "y.csv"
    frame.to_csv(path)  # writes the index as an unnamed first column... named 'date'
    raw = pd.read_csv(path).rename(columns={"date": ""})
    raw.to_csv(path, index=False)
    candles = load_candles(path)
    assert candles.frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_parquet_and_freqtrade_json(tmp_path: Path) -> None:
    frame = synthetic_frame(40)
    frame.to_parquet(tmp_path / "a.parquet")
    assert len(load_candles(tmp_path / "a.parquet").frame) == 40
    rows = [
        [int(t.value // 1_000_000), *row]
        for t, row in zip(frame.index, frame.to_numpy().tolist(), strict=True)
    ]
    (tmp_path / "BTC_USDT-5m.json").write_text(json.dumps(rows))
    candles = load_candles(tmp_path / "BTC_USDT-5m.json")
    assert (candles.symbol, candles.timeframe) == ("BTC_USDT", "5m")
    np.testing.assert_allclose(candles.frame["close"].to_numpy(), frame["close"].to_numpy())


def _corrupt(column: str, row: int, value: float) -> pd.DataFrame:
    frame = synthetic_frame(60)
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (_corrupt("close", 7, np.nan), "NaN or inf at row 7"),
        (_corrupt("volume", 3, np.inf), "NaN or inf at row 3"),
        (_corrupt("low", 5, -1.0), "a price <= 0 at row 5"),
        (_corrupt("volume", 9, -5.0), "a negative volume at row 9"),
        (_corrupt("high", 11, 1.0), "high < low at row 11"),
    ],
)
def test_bad_values_name_the_row(frame: pd.DataFrame, expected: str) -> None:
    with pytest.raises(DataValidationError, match=expected):
        make_candles(frame, "X")


def test_high_below_body_and_low_above_body() -> None:
    frame = synthetic_frame(60)
    frame.iloc[4, 1] = max(frame.iloc[4, 0], frame.iloc[4, 3]) * 0.9999
    frame.iloc[4, 2] = min(frame.iloc[4, 2], frame.iloc[4, 1])
    with pytest.raises(DataValidationError, match=r"high >= max\(open, close\).*row 4"):
        make_candles(frame, "X")
    frame = synthetic_frame(60)
    frame.iloc[6, 2] = min(frame.iloc[6, 0], frame.iloc[6, 3]) * 1.0001
    frame.iloc[6, 1] = max(frame.iloc[6, 1], frame.iloc[6, 2])
    with pytest.raises(DataValidationError, match=r"low <= min\(open, close\).*row 6"):
        make_candles(frame, "X")


def test_unsorted_and_duplicate_timestamps_are_refused_not_fixed() -> None:
    frame = synthetic_frame(60)
    swapped = frame.index.to_numpy().copy()
    swapped[[10, 11]] = swapped[[11, 10]]
    with pytest.raises(DataValidationError, match=r"earlier than the one before it at row 11"):
        make_candles(frame.set_axis(pd.DatetimeIndex(swapped, name="date")), "X")
    duplicated = frame.index.to_numpy().copy()
    duplicated[20] = duplicated[19]
    with pytest.raises(DataValidationError, match=r"duplicate timestamp at row 20"):
        make_candles(frame.set_axis(pd.DatetimeIndex(duplicated, name="date")), "X")


def test_too_few_rows_says_how_many_are_needed() -> None:
    with pytest.raises(DataValidationError, match="at least 200 candles .* found 60"):
        make_candles(synthetic_frame(60), "X", settings=ValidationSettings(min_rows=200))


def test_gaps_warn_below_the_limit_and_fail_above() -> None:
    frame = synthetic_frame(100)
    few = frame.drop(frame.index[[10, 50]])
    candles = make_candles(few, "X", "5m")
    assert candles.warnings and "2 gap(s) totalling 2 missing bar(s)" in candles.warnings[0]
    many = frame.iloc[::2]
    with pytest.raises(DataValidationError, match="expected at most 10.0% of steps with gaps"):
        make_candles(many, "X", "5m")


def test_daily_market_data_counts_business_day_gaps_only() -> None:
    frame = synthetic_frame(300, freq="B")
    assert make_candles(frame, "X", "1d").warnings == ()
    assert infer_timeframe(frame.index) == "1d"


def test_malformed_files_are_typed_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,open,high\n1,2,3\n")
    with pytest.raises(DataValidationError, match="expected a date column|missing"):
        load_candles(bad)
    (tmp_path / "nodate.csv").write_text("open,high,low,close,volume\n1,1,1,1,1\n")
    with pytest.raises(DataValidationError, match="expected a date column"):
        load_candles(tmp_path / "nodate.csv")
    (tmp_path / "text.csv").write_text("date,open,high,low,close,volume\n2024-01-01,a,1,1,1,1\n")
    with pytest.raises(DataValidationError, match="column 'open' expects numbers, found 'a'"):
        load_candles(tmp_path / "text.csv")
    (tmp_path / "x.feather").write_bytes(b"not feather")
    with pytest.raises(DataValidationError, match="cannot be read"):
        load_candles(tmp_path / "x.feather")
    with pytest.raises(DataValidationError, match="expected a .csv"):
        load_candles(bad.rename(tmp_path / "bad.xlsx"))


def test_unsorted_rows_keep_their_order_and_are_refused(tmp_path: Path) -> None:
    """Nothing is ever re-sorted: normalising keeps the rows as given (values with their
    timestamps), and validation refuses the out-of-order row by number and timestamp."""
    frame = synthetic_frame(30)
    order = [*range(10), 11, 10, *range(12, 20), *range(29, 19, -1)]  # a swap, then a reversal
    unsorted = frame.iloc[order]
    normalised = normalise_frame(unsorted)
    pd.testing.assert_index_equal(normalised.index, unsorted.index, check_names=False)
    np.testing.assert_array_equal(normalised.to_numpy(), unsorted.to_numpy())
    message = (
        r"expected sorted timestamps, found a timestamp earlier than the one before it at row 11 "
        rf"\({re.escape(str(frame.index[10]))}\); 10 row\(s\) affected"
    )
    with pytest.raises(DataValidationError, match=message):
        make_candles(unsorted, "X", "5m")
    path = tmp_path / "unsorted.csv"
    unsorted.rename_axis("date").reset_index().to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=message):
        load_candles(path, "X", "5m")


def test_candles_close_is_the_close_column_of_plain_and_other_frames() -> None:
    """``Candles.close`` reads a plain frame's block directly and any other frame by name; the
    values and dtype are the column's either way, and ``last_bar`` is the last index entry."""
    index = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC", name="date")
    plain = pd.DataFrame(
        np.arange(20, dtype=np.float64).reshape(4, 5) + 1.0,
        index=index,
        columns=["open", "high", "low", "close", "volume"],
    )
    reordered = plain[["close", "open", "high", "low", "volume"]].copy()
    mixed = plain.assign(volume=np.arange(4, dtype=np.int64))
    for frame in (plain, reordered, mixed):
        candles = Candles(frame, "X", "1h")
        expected = frame["close"].to_numpy()
        assert np.array_equal(candles.close, expected) and candles.close.dtype == expected.dtype
        assert candles.last_bar == index[-1]


def test_candles_from_arrays_frame_only_when_asked_and_read_as_pandas_would() -> None:
    """Array candles answer ``close``, ``times_ns``, ``len`` and ``last_bar`` from the arrays;
    the frame is built on first read and equals the core's; ``last_bar`` prints as pandas
    prints the index's last entry, to the second, microsecond and nanosecond."""
    ohlcv = np.arange(20, dtype=np.float64).reshape(4, 5) + 1.0
    for last in (1_700_000_000_000_000_000, 1_700_000_000_500_000_000, 1_700_000_000_000_000_123):
        times = np.array([last - 3_600 * 10**9 * k for k in (3, 2, 1, 0)], dtype=np.int64)
        candles = Candles(None, "X", "1h", arrays=(times, ohlcv))
        assert len(candles) == 4 and np.array_equal(candles.close, ohlcv[:, 3])
        assert np.array_equal(candles.times_ns, times) and "frame" not in candles.__dict__
        expected = pd.Timestamp(last, unit="ns", tz="UTC")
        assert candles.last_bar.isoformat() == expected.isoformat()
        assert str(candles.last_bar) == str(expected)
        frame = candles.frame
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
        assert frame.index.name == "date" and str(frame.index.tz) == "UTC"
        assert np.array_equal(frame.to_numpy(), ohlcv) and list(frame.index.asi8) == list(times)
    with pytest.raises(InvariantError, match="found neither"):
        Candles(None, "X", "1h")
    with pytest.raises(InvariantError, match="found both"):
        Candles(frame, "X", "1h", arrays=(times, ohlcv))

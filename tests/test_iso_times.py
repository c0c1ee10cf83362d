"""ISO-8601 timestamps read by arrays (``candle_arrays.iso_ns``, issue 26): the same epoch ns
as pandas' ``to_datetime(utc=True)`` (the core's parser) for every layout it reads, None (the
core then explains) for anything it does not."""

from __future__ import annotations

from datetime import timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ai_engine.candle_arrays import iso_ns

TIMES = pd.DatetimeIndex(
    np.sort(np.random.default_rng(0).integers(0, 8_900_000_000_000, 500)) * 1_000_000, tz="UTC"
).floor("us")


def core(stamps: list[str]) -> np.ndarray:
    return pd.to_datetime(pd.Series(stamps), utc=True).astype("int64").to_numpy()


@pytest.mark.parametrize(
    "layout",
    [
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S.%fZ",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S+00:00",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%d",
    ],
)
def test_utc_layouts_read_as_the_core_reads_them(layout: str) -> None:
    stamps = list(TIMES.strftime(layout))
    found = iso_ns(stamps)
    assert found is not None
    np.testing.assert_array_equal(found, core(stamps))


@pytest.mark.parametrize("offset", ["+05:30", "-08:00", "+0100", "-0345", "+00:00"])
def test_offsets_read_as_the_core_reads_them(offset: str) -> None:
    sign = -1 if offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:])))
    local = [t.to_pydatetime().astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") for t in TIMES]
    stamps = [s + offset for s in local[1:]]  # the first is before 1970 in some zones
    found = iso_ns(stamps)
    assert found is not None
    np.testing.assert_array_equal(found, core(stamps))


def test_rows_with_different_offsets_and_leap_days() -> None:
    stamps = ["2024-02-29T00:00:00+01:00", "2024-02-29T00:30:00-01:00", "2024-03-01T05:00:00+09:00"]
    np.testing.assert_array_equal(iso_ns(stamps), core(stamps))
    mixed = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+05:30"]  # one layout to the core
    np.testing.assert_array_equal(iso_ns(mixed), core(mixed))
    assert iso_ns([*stamps, "2024-03-02Z"]) is None  # a date with "Z": the core refuses it
    assert iso_ns([]) is not None and len(iso_ns([])) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stamps",
    [
        ["2023-02-29T00:00:00Z"],  # no such day
        ["2024-04-31T00:00:00Z"],
        ["2024-13-01T00:00:00Z"],
        ["2024-01-01T24:00:00Z"],
        ["2024-01-01T00:60:00Z"],
        ["2024-01-01T00:00:60Z"],
        ["2024-01-01T00:00:00+24:00"],
        ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+0100"],  # two layouts
        ["2024-01-01T00:00:00+01:00", "2024-01-01T01:00:00+0100"],
        ["2024-01-01Z"],
        ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00.5Z"],
        ["2024-01-01T00:00:00Z", "2024-01-0xT00:00:00Z"],
        ["2024-01-01T00:00:00Z", "2024-01-01t00:00:00Z"],
        ["1969-12-31T23:00:00Z"],  # before the fast path's range
        ["2300-01-01T00:00:00Z"],
        ["01/02/2024"],
        ["2024-1-01T00:00:00Z"],
        ["20240101T000000Z"],
        [" 2024-01-01T00:00:00Z"],
        ["2024-01-01T00:00:00 Z"],
        ["١٢٣٤-01-01T00:00:00Z"],  # digits that are not ASCII
    ],
)
def test_anything_else_is_left_to_the_core(stamps: list[str]) -> None:
    assert iso_ns(stamps) is None

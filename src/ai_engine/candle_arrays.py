"""Candles from numpy arrays: the service's fast path to a validated ``Candles``.

``candles_from_arrays`` checks every rule of ``data.validate`` with whole-array numpy
operations (no per-candle Python objects, no pandas until the frame is built once). When a
rule fails, the frame goes through ``data.make_candles`` itself, so the error message (row,
timestamp, count) is exactly the core's; the fast checks only decide that nothing fails.
Timestamps come as epoch ms (``epoch_ns``) or as ISO-8601 strings of one layout (``iso_ns``,
vectorised over the characters); anything else is left to the core, which explains it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ai_engine.data import (
    Candles,
    ValidationSettings,
    frame_of,
    make_candles,
    timeframe_delta,
    utc_datetime,
)

NS_PER_DAY = 86_400 * 10**9
MAX_MS = 9_000_000_000_000
"""Largest epoch-ms timestamp taken on the fast path (year 2255; pandas ends in 2262)."""


def epoch_ns(times: np.ndarray) -> np.ndarray | None:
    """Epoch ms (or s: every value ≤ 1e11, as the core reads them) as int64 ns; None when out of
    the fast path's range (the core then explains why)."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(times.min()), int(times.max())
    if low < 0 or high > MAX_MS:
        return None
    scale = 1_000_000 if high > 10**11 else 1_000_000_000
    return times.astype(np.int64) * scale


ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
"""The ISO-8601 layouts ``iso_ns`` reads: date, optional time (minutes, seconds, up to nine
fraction digits, then ``Z``, an offset ``+HH:MM`` / ``+HHMM``, or nothing: UTC, as the core)."""
_ZERO = ord("0")


def iso_ns(stamps: Sequence[str]) -> np.ndarray | None:
    """ISO-8601 strings ``(n,)`` of the first one's layout (``ISO``; offsets may differ in
    sign and value) as int64 epoch ns, or None for anything else: another layout, a date or
    time that does not exist, a time outside the fast path's range (the core then says why)."""
    if not stamps:
        return np.zeros(0, dtype=np.int64)
    first = stamps[0]
    match = ISO.fullmatch(first) if type(first) is str else None
    width = len(first)
    if match is None:
        return None
    if len(set(map(len, stamps))) != 1:  # "Z" beside "+05:30" rows is one layout to the core
        if match.group(8) is None or not any(s[-1:] == "Z" for s in stamps):
            return None
        return iso_ns([s[:-1] + "+00:00" if s[-1:] == "Z" else s for s in stamps])
    try:
        codes = np.array(stamps, dtype=f"<U{width}").view(np.uint32).reshape(len(stamps), width)
    except (TypeError, ValueError):
        return None
    template = codes[0]
    is_digit = (template >= _ZERO) & (template <= _ZERO + 9)
    same = codes[:, ~is_digit] == template[~is_digit]
    offset = match.group(8)
    if offset is not None and offset != "Z":  # the offset's sign may be + or - on every row
        column = int(np.count_nonzero(~is_digit[: match.start(8)]))
        same[:, column] = np.isin(codes[:, match.start(8)], (ord("+"), ord("-")))
    if not same.all() or not ((codes[:, is_digit] - _ZERO) <= 9).all():
        return None

    def number(group: int, start: int = 0, end: int | None = None) -> np.ndarray:
        """The digits of ``group`` (from ``start`` to ``end`` within it) as int64 ``(n,)``."""
        if match.group(group) is None:
            return np.zeros(len(stamps), dtype=np.int64)
        left = match.start(group) + start
        right = match.end(group) if end is None else match.start(group) + end
        digits = codes[:, left:right].astype(np.int64) - _ZERO
        return digits @ (10 ** np.arange(right - left - 1, -1, -1, dtype=np.int64))

    year, month, day = number(1), number(2), number(3)
    hour, minute, second = number(4), number(5), number(6)
    months = (year - 1970) * 12 + month - 1
    start = months.astype("M8[M]").astype("M8[D]").astype(np.int64)
    length = (months + 1).astype("M8[M]").astype("M8[D]").astype(np.int64) - start
    offset_min = np.zeros(len(stamps), dtype=np.int64)
    if offset is not None and offset != "Z":
        sign = np.where(codes[:, match.start(8)] == ord("-"), -1, 1)
        off_h, off_m = number(8, 1, 3), number(8, len(offset) - 2)
        if (off_h > 23).any() or (off_m > 59).any():
            return None
        offset_min = sign * (off_h * 60 + off_m)
    if ((month < 1) | (month > 12) | (day < 1) | (day > length)).any():
        return None
    if ((hour > 23) | (minute > 59) | (second > 59)).any():
        return None
    fraction = match.group(7)
    nanos = number(7) * 10 ** (9 - len(fraction)) if fraction is not None else 0
    minutes = (start + day - 1) * 1440 + hour * 60 + minute - offset_min
    times = (minutes * 60 + second) * 10**9 + nanos
    if int(times.min()) < 0 or int(times.max()) > MAX_MS * 1_000_000:
        return None
    return times


def rows_ok(times_ns: np.ndarray, values: np.ndarray) -> bool:
    """Every per-row rule of ``data.validate`` holds and timestamps strictly increase."""
    if not np.isfinite(values).all():
        return False
    o, h, low, c, v = values.T
    if (values[:, :4] <= 0).any() or (v < 0).any() or (h < low).any():
        return False
    if (h < np.maximum(o, c)).any() or (low > np.minimum(o, c)).any():
        return False
    return bool((np.diff(times_ns) > 0).all())


def missing_bars(times_ns: np.ndarray, timeframe: str) -> np.ndarray:
    """Bars missing before each step, as ``data._gap_warnings`` counts them (business days for
    daily candles without weekend bars)."""
    step = timeframe_delta(timeframe).value
    if step == NS_PER_DAY:
        days = times_ns // NS_PER_DAY  # 1970-01-01 was a Thursday: weekday = (days + 3) % 7
        if not ((days + 3) % 7 >= 5).any():
            as_days = days.astype("datetime64[D]")
            return np.busday_count(as_days[:-1], as_days[1:]) - 1
    return np.diff(times_ns) // step - 1


def gap_warnings(
    times_ns: np.ndarray, timeframe: str, settings: ValidationSettings, source: str
) -> list[str] | None:
    """The core's gap warning, or None when the gaps exceed the allowed share (the core raises)."""
    if len(times_ns) < 2:
        return []
    missing = missing_bars(times_ns, timeframe)
    gapped = missing > 0
    gaps = int(gapped.sum())
    if gaps == 0:
        return []
    share = gaps / (len(times_ns) - 1)
    if share > settings.max_gap_share:
        return None
    first = utc_datetime(int(times_ns[int(np.argmax(gapped))]))
    return [
        f"{source}: {gaps} gap(s) totalling {int(missing[gapped].sum())} missing bar(s) "
        f"({share:.1%} of steps; first after {first})"
    ]


def candles_from_arrays(
    times_ns: np.ndarray,
    values: np.ndarray,
    symbol: str,
    timeframe: str,
    settings: ValidationSettings,
    source: str = "candles",
) -> Candles:
    """Validated candles from int64 epoch-ns ``times_ns`` ``(n,)`` and float64 OHLCV ``values``
    ``(n, 5)``; the same Candles (and the same DataValidationError) as ``data.make_candles``."""
    if len(times_ns) >= settings.min_rows and rows_ok(times_ns, values):
        warnings = gap_warnings(times_ns, timeframe, settings, source)
        if warnings is not None:
            return Candles(None, symbol, timeframe, tuple(warnings), arrays=(times_ns, values))
    frame = frame_of(times_ns, values)
    return make_candles(frame, symbol, timeframe, settings, source)  # raises the core's error

"""orjson in, orjson out: candle bodies parsed column-wise into numpy, answers dumped once.

``parse_candles`` accepts only what the pydantic models of the wire (``CandlesIn``,
``StreamIn``) accept without coercion: exact keys, numbers that are numbers, timestamps that are
all integer epochs or all ISO-8601 strings of one layout (``candle_arrays.iso_ns``: ``Z`` or an
offset, read to epoch ns without pandas). For anything else it returns None and the route's
handler lets the pydantic model read the body (fastpath.read_body), so every bad-input rule
keeps its pydantic error (4xx naming the field). Columns are taken out of orjson's rows with
``operator.itemgetter`` and converted by numpy: no Python loop over candles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from ai_engine.candle_arrays import epoch_ns, iso_ns
from ai_engine.service.schemas import HARD_MAX_CANDLES, WIRE_NAMES

VALUE_NAMES = WIRE_NAMES[1:]
MAX_EPOCH = 10**14
"""The schema's bound on ``t`` (EpochOrIso)."""
TIMEFRAME = re.compile(r"[1-9][0-9]{0,3}[mhdw]")
NUMBER_TYPES = frozenset({int, float})
_columns_of_rows = itemgetter(*WIRE_NAMES)


class JSONBytes(Response):
    """A JSON answer dumped by orjson in one pass (numpy arrays and scalars included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True)
class ParsedCandles:
    """A body's candles as arrays: ``times`` ``(n,)`` (the raw epochs, or epoch ns read from
    the ``iso`` strings) and OHLCV ``values`` ``(n, 5)``."""

    symbol: str
    timeframe: str
    times: np.ndarray
    values: np.ndarray
    loc: list[str | int]
    iso: list[str] | None = None
    """The body's ISO-8601 timestamps as sent; None when they are epochs."""

    def times_ns(self) -> np.ndarray | None:
        """int64 epoch ns ``(n,)``; None when out of the fast path's range."""
        return self.times if self.iso is not None else epoch_ns(self.times)

    def date_column(self) -> list[Any]:
        """The timestamps as the body sent them, for the core's parser."""
        return list(self.iso) if self.iso is not None else self.times.tolist()


def parse_candles(body: bytes, with_names: bool = True) -> ParsedCandles | None:
    """The body's candles (and ``symbol``/``timeframe`` when ``with_names``), or None when it is
    anything but the plain case: the caller then lets pydantic read it."""
    try:
        data = orjson.loads(body)  # refuses NaN, Infinity and overflowing numbers
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict:
        return None
    symbol: Any = ""
    timeframe: Any = ""
    if with_names:
        symbol, timeframe = data.get("symbol"), data.get("timeframe")
        if type(symbol) is not str or not 1 <= len(symbol) <= 64:
            return None
        if type(timeframe) is not str or TIMEFRAME.fullmatch(timeframe) is None:
            return None
    names = {"symbol", "timeframe"} if with_names else set()
    rows, columns = data.get("candles"), data.get("columns")
    if rows is not None and columns is None and data.keys() == names | {"candles"}:
        arrays = _from_rows(rows)
        loc: list[str | int] = ["body", "candles"]
    elif columns is not None and rows is None and data.keys() == names | {"columns"}:
        arrays = _from_columns(columns)
        loc = ["body", "columns"]
    else:
        return None
    if arrays is None:
        return None
    return ParsedCandles(symbol, timeframe, arrays[0], arrays[1], loc, arrays[2])


Arrays = tuple[np.ndarray, np.ndarray, list[str] | None]
"""``(times, values, iso strings or None)``"""


def _from_rows(rows: Any) -> Arrays | None:
    if type(rows) is not list or len(rows) > HARD_MAX_CANDLES:
        return None
    if not rows:
        return _arrays([[] for _ in WIRE_NAMES])
    try:
        if set(map(len, rows)) != {len(WIRE_NAMES)}:  # with all six names: exactly them
            return None
        columns = list(zip(*map(_columns_of_rows, rows), strict=True))
    except (TypeError, KeyError):  # a row that is not an object, or lacks a name
        return None
    return _arrays(columns)


def _from_columns(columns: Any) -> Arrays | None:
    if type(columns) is not dict or columns.keys() != set(WIRE_NAMES):
        return None
    lists = [columns[name] for name in WIRE_NAMES]
    if any(type(c) is not list for c in lists) or len({len(c) for c in lists}) != 1:
        return None
    if len(lists[0]) > HARD_MAX_CANDLES:
        return None
    return _arrays(lists)


def _arrays(columns: list[Any]) -> Arrays | None:
    """``t`` as int64 and the values as float64 ``(n, 5)``; None unless every ``t`` is an int in
    the schema's range (or every one an ISO-8601 string ``iso_ns`` reads, up to the schema's
    40 characters) and every value an int or a finite float."""
    times, *values = columns
    kinds = set(map(type, times))
    iso: list[str] | None = None
    if kinds == {str}:
        iso = list(times)
        if len(iso[0]) > 40:
            return None
        times = iso_ns(iso)
        if times is None:
            return None
    elif not kinds <= {int}:
        return None
    if not all(set(map(type, column)) <= NUMBER_TYPES for column in values):
        return None
    try:
        stamps = np.asarray(times, dtype=np.int64)
        block = np.array(values, dtype=np.float64).T.copy()
    except (OverflowError, ValueError):
        return None
    if iso is None and len(stamps) and (int(stamps.min()) < 0 or int(stamps.max()) > MAX_EPOCH):
        return None
    if not np.isfinite(block).all():  # an int too large for a float64
        return None
    return stamps, block.reshape(len(stamps), len(VALUE_NAMES)), iso

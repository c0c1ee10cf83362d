"""Candle loading and validation: CSV, Parquet and freqtrade feather/json in, a validated frame out.

A candle frame has a UTC ``DatetimeIndex`` named ``date`` and float64 columns
``open, high, low, close, volume``. Nothing is ever re-sorted, filled or dropped: a problem is
a ``DataValidationError`` naming the row and timestamp, or (for gaps under the limit) a warning.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.errors import DataValidationError, InvariantError

COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
DATE_COLUMNS: tuple[str, ...] = ("date", "timestamp", "time", "datetime")
_FREQTRADE_NAME = re.compile(
    r"^(?P<pair>.+?)-(?P<tf>\d+[mhdwM])(?:-(?:futures|spot|mark|funding_rate))?$"
)
_TIMEFRAME = re.compile(r"^(\d+)([mhdw])$")


@dataclass(frozen=True)
class ValidationSettings:
    """Limits for ``validate``: the rows a caller needs and the share of gaps tolerated."""

    min_rows: int = 1
    max_gap_share: float = 0.10


class Candles:
    """Validated candles with the symbol and timeframe they belong to: a candle frame, or the
    arrays the service validated (int64 epoch-ns ``times_ns`` ``(n,)``, float64 OHLCV
    ``ohlcv`` ``(n, 5)``), framed only when ``frame`` is first read (a cold pandas frame costs
    a request ~0.5 ms; the serving path reads the arrays)."""

    def __init__(
        self,
        frame: pd.DataFrame | None,
        symbol: str,
        timeframe: str,
        warnings: tuple[str, ...] = (),
        *,
        arrays: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if (frame is None) == (arrays is None):
            raise InvariantError(
                "Candles takes a frame or arrays=(times_ns, ohlcv): expected one of them, "
                f"found {'both' if frame is not None else 'neither'}"
            )
        self.symbol, self.timeframe, self.warnings = symbol, timeframe, warnings
        self._arrays = arrays
        if frame is not None:
            self.__dict__["frame"] = frame

    def __repr__(self) -> str:
        return f"Candles({self.symbol!r}, {self.timeframe!r}, {len(self)} rows)"

    def __len__(self) -> int:
        return len(self._arrays[0]) if self._arrays is not None else len(self.frame)

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The candle frame (UTC ``date`` index, float64 OHLCV columns)."""
        if self._arrays is None:  # __init__ stores a given frame in its place
            raise InvariantError("Candles without a frame and without arrays")
        return frame_of(*self._arrays)

    @property
    def plain(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(times_ns (n,), ohlcv (n, 5) float64)`` when the candles came as arrays, else None
        (a frame's columns may be of another dtype or order)."""
        return self._arrays

    @functools.cached_property
    def close(self) -> np.ndarray:
        """The close column ``(n,)``; a view of the arrays or of a plain frame's float64 block,
        without the Series that ``frame["close"]`` builds."""
        if self._arrays is not None:
            return self._arrays[1][:, COLUMNS.index("close")]
        frame = self.frame
        blocks = getattr(getattr(frame, "_mgr", None), "blocks", None)
        if blocks is not None and len(blocks) == 1 and blocks[0].dtype == np.float64:
            return frame.to_numpy(np.float64)[:, frame.columns.get_loc("close")]
        return frame["close"].to_numpy()

    @functools.cached_property
    def times_ns(self) -> np.ndarray:
        """When each candle opened, int64 epoch ns ``(n,)``."""
        return self._arrays[0] if self._arrays is not None else self.frame.index.asi8

    @functools.cached_property
    def last_bar(self) -> datetime:
        """When the last candle opened (UTC)."""
        if self._arrays is not None:
            return utc_datetime(int(self._arrays[0][-1]))
        last: datetime = self.frame.index[-1]
        return last


def frame_of(times_ns: np.ndarray, ohlcv: np.ndarray) -> pd.DataFrame:
    """The core's candle frame (UTC ``date`` index, float64 OHLCV) over ``ohlcv`` ``(n, 5)``."""
    index = pd.DatetimeIndex(times_ns.view("M8[ns]"), name="date").tz_localize("UTC")
    return pd.DataFrame(ohlcv, index=index, columns=list(COLUMNS), copy=False)


def utc_datetime(ns: int) -> datetime:
    """Epoch ns as an aware UTC datetime, printed as pandas prints it (a ``pd.Timestamp`` when
    the time has nanoseconds a datetime cannot hold)."""
    if ns % 1000:
        stamp: datetime = pd.Timestamp(ns, unit="ns", tz="UTC")
        return stamp
    return _EPOCH + timedelta(microseconds=ns // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=64)
def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """``"5m" -> 5 minutes``; an unknown spelling is a DataValidationError."""
    match = _TIMEFRAME.match(timeframe)
    if not match:
        raise DataValidationError(
            f"timeframe must look like 1m, 5m, 1h, 4h, 1d or 1w, found {timeframe!r}"
        )
    count, unit = int(match.group(1)), match.group(2)
    return pd.Timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: count})


def infer_timeframe(index: pd.DatetimeIndex) -> str:
    """The timeframe spelled from the median spacing of the index (``5m``, ``1h``, ``1d``)."""
    if len(index) < 2:
        raise DataValidationError(
            f"need at least 2 candles to infer the timeframe, found {len(index)}"
        )
    minutes = int(pd.Series(index).diff().median().total_seconds() // 60)
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60)):
        if minutes >= size and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{max(minutes, 1)}m"


def load_candles(
    path: str | Path,
    symbol: str | None = None,
    timeframe: str | None = None,
    settings: ValidationSettings | None = None,
) -> Candles:
    """Read a candle file (csv, parquet, feather, freqtrade json) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: expected a candle file, found nothing there")
    readers = {
        ".csv": _read_csv,
        ".parquet": pd.read_parquet,
        ".feather": pd.read_feather,
        ".json": _read_freqtrade_json,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataValidationError(
            f"{path}: expected a .csv, .parquet, .feather or .json file, found {path.suffix!r}"
        )
    try:
        raw = reader(path)
    except DataValidationError:
        raise
    except Exception as exc:  # the readers raise many unrelated types on corrupt files
        raise DataValidationError(
            f"{path}: cannot be read as {path.suffix} candles: {exc}"
        ) from exc
    frame = normalise_frame(raw, source=str(path))
    name_match = _FREQTRADE_NAME.match(path.stem)
    symbol = symbol or (name_match.group("pair") if name_match else path.stem)
    timeframe = timeframe or (name_match.group("tf") if name_match else None)
    return make_candles(frame, symbol, timeframe, settings, source=str(path))


def make_candles(
    frame: pd.DataFrame,
    symbol: str,
    timeframe: str | None = None,
    settings: ValidationSettings | None = None,
    source: str = "candles",
) -> Candles:
    """Validate a normalised frame and wrap it with its symbol and timeframe."""
    warnings = validate(frame, settings or ValidationSettings(), timeframe, source)
    return Candles(frame, symbol, timeframe or infer_timeframe(frame.index), tuple(warnings))


def candles_from_columns(
    columns: Mapping[str, Sequence[Any]],
    symbol: str,
    timeframe: str | None = None,
    settings: ValidationSettings | None = None,
    source: str = "candles",
) -> Candles:
    """Validate candles given as equal-length columns ``date, open, high, low, close, volume``.

    Built for request bodies: timestamps are all numbers (epoch seconds or milliseconds) or all
    ISO-8601 strings; values must be numbers. Cheaper than ``normalise_frame`` (no copy, no
    header search), same frame out.
    """
    names = ("date", *COLUMNS)
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataValidationError(f"{source}: expected columns {list(names)}, missing {missing}")
    lengths = {n: len(columns[n]) for n in names}
    if len(set(lengths.values())) != 1:
        raise DataValidationError(f"{source}: expected columns of equal length, found {lengths}")
    dates = list(columns["date"])
    kinds = {type(d) for d in dates}
    numeric = kinds <= {int, float}
    if not numeric and kinds != {str}:
        row = next((i for i, d in enumerate(dates) if type(d) is not type(dates[0])), 0)
        raise DataValidationError(
            f"{source}: expected timestamps that are all numbers (epoch ms) or all ISO-8601 "
            f"strings, found a mix (row {row}: {dates[row]!r})"
        )
    raw_dates = pd.Series(np.asarray(dates, dtype=np.float64) if numeric and dates else dates)
    index = pd.DatetimeIndex(_parse_timestamps(raw_dates, source), name="date")
    try:
        values = {c: np.asarray(columns[c], dtype=np.float64) for c in COLUMNS}
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{source}: expected numbers for {list(COLUMNS)}: {exc}") from exc
    return make_candles(pd.DataFrame(values, index=index), symbol, timeframe, settings, source)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def _read_freqtrade_json(path: Path) -> pd.DataFrame:
    """freqtrade's json layout: a list of ``[ms, open, high, low, close, volume]`` rows."""
    rows = json.loads(path.read_text())
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 6 for r in rows):
        raise DataValidationError(
            f"{path}: expected freqtrade json, a list of [ms, open, high, low, close, volume]"
        )
    return pd.DataFrame(rows, columns=["date", *COLUMNS])


def normalise_frame(raw: pd.DataFrame, source: str = "candles") -> pd.DataFrame:
    """Lower-case headers, find the date column, parse timestamps as UTC, keep OHLCV as float64."""
    frame = raw.copy()
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    first = str(frame.columns[0])
    if date_col is None and (first in ("", "index") or first.startswith("unnamed")):
        date_col = first
    separator = next((s for s in (";", "\t", "|") if len(frame.columns) == 1 and s in first), None)
    if separator is not None:  # one column whose name holds the real header
        raise DataValidationError(
            f"{source}: the file looks {separator!r}-separated (one column {first!r}); save it "
            f"comma-separated, or read it with pandas.read_csv(sep={separator!r}) and pass a frame"
        )
    if date_col is None:
        raise DataValidationError(
            f"{source}: expected a date column named one of {list(DATE_COLUMNS)} or an unnamed "
            f"first column, found columns {list(frame.columns)}"
        )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        hint = (  # the rule README documents: the volume features stay defined, carry nothing
            "; FX and index files often have none: add a column volume = 1 on every bar"
            if missing == ["volume"]
            else ""
        )
        raise DataValidationError(
            f"{source}: expected columns {list(COLUMNS)}, missing {missing} "
            f"(found {list(frame.columns)}){hint}"
        )
    index = pd.DatetimeIndex(_parse_timestamps(frame[date_col], source), name="date")
    values = {}
    for column in COLUMNS:
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = numeric.isna() & frame[column].notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataValidationError(
                f"{source}: column {column!r} expects numbers, found {frame[column].iloc[row]!r} "
                f"at row {row} ({index[row]})"
            )
        values[column] = numeric.to_numpy(dtype=np.float64)
    return pd.DataFrame(values, index=index)


def _parse_timestamps(column: pd.Series, source: str) -> pd.DatetimeIndex:
    try:
        if pd.api.types.is_numeric_dtype(column):
            unit = "ms" if float(np.nanmax(np.abs(column.to_numpy(dtype=float)))) > 1e11 else "s"
            return pd.DatetimeIndex(pd.to_datetime(column, unit=unit, utc=True))
        return pd.DatetimeIndex(pd.to_datetime(column, utc=True))
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataValidationError(
            f"{source}: expected timestamps (ISO dates or epoch milliseconds), found {exc}"
        ) from exc


def validate(
    frame: pd.DataFrame,
    settings: ValidationSettings,
    timeframe: str | None = None,
    source: str = "candles",
) -> list[str]:
    """Check a normalised frame; raise on the first problem, return warnings (gaps) otherwise."""
    if frame.index.hasnans:
        _fail(source, "a timestamp", frame.index.isna(), frame, "a missing timestamp")
    values = frame[list(COLUMNS)].to_numpy()
    _fail(source, "finite numbers", ~np.isfinite(values).all(axis=1), frame, "NaN or inf")
    o, h, low, c, v = values.T
    _fail(source, "positive prices", (values[:, :4] <= 0).any(axis=1), frame, "a price <= 0")
    _fail(source, "volume >= 0", v < 0, frame, "a negative volume")
    _fail(source, "high >= low", h < low, frame, "high < low")
    _fail(source, "high >= max(open, close)", h < np.maximum(o, c), frame, "high below the body")
    _fail(source, "low <= min(open, close)", low > np.minimum(o, c), frame, "low above the body")
    steps = np.diff(frame.index.asi8)
    if len(steps) > 1 and (steps < 0).all():
        raise DataValidationError(
            f"{source}: the file looks reversed (newest bar first: {frame.index[0]} .. "
            f"{frame.index[-1]}); sort it oldest first"
        )
    _fail(
        source,
        "strictly increasing timestamps",
        np.r_[False, steps == 0],
        frame,
        "a duplicate timestamp",
    )
    _fail(
        source,
        "sorted timestamps",
        np.r_[False, steps < 0],
        frame,
        "a timestamp earlier than the one before it",
    )
    if len(frame) < settings.min_rows:
        raise DataValidationError(
            f"{source}: expected at least {settings.min_rows} candles for the configured lookback, "
            f"found {len(frame)}"
        )
    return _gap_warnings(frame.index, settings, timeframe, source)


def _fail(source: str, expected: str, bad: np.ndarray, frame: pd.DataFrame, found: str) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        raise DataValidationError(
            f"{source}: expected {expected}, found {found} at row {row} ({frame.index[row]}); "
            f"{int(bad.sum())} row(s) affected"
        )


def _gap_warnings(
    index: pd.DatetimeIndex, settings: ValidationSettings, timeframe: str | None, source: str
) -> list[str]:
    """Count missing bars; daily data without weekend bars is measured in business days."""
    if len(index) < 2:
        return []
    step = timeframe_delta(timeframe) if timeframe else timeframe_delta(infer_timeframe(index))
    if step == pd.Timedelta(days=1) and not (index.dayofweek >= 5).any():
        days = index.normalize().tz_localize(None).to_numpy().astype("datetime64[D]")
        missing = np.busday_count(days[:-1], days[1:]) - 1
    else:
        missing = np.diff(index.asi8) // step.value - 1
    gaps = int((missing > 0).sum())
    if gaps == 0:
        return []
    share = gaps / (len(index) - 1)
    message = (
        f"{source}: {gaps} gap(s) totalling {int(missing[missing > 0].sum())} missing bar(s) "
        f"({share:.1%} of steps; first after {index[int(np.argmax(missing > 0))]})"
    )
    if share > settings.max_gap_share:
        guess = infer_timeframe(index)
        if timeframe and timeframe_delta(guess) != step:  # likely another timeframe, not gaps
            message = (
                f"{source}: this file looks like {guess} data (its median step between bars); "
                f"you asked for {timeframe}: give --timeframe {guess}, or {timeframe} candles. "
                f"Read as {timeframe}: {message.removeprefix(f'{source}: ')}"
            )
        raise DataValidationError(
            f"{message}; expected at most {settings.max_gap_share:.1%} of steps with gaps"
        )
    return [message]


def demo_candles() -> Candles:
    """S&P 500 daily candles 1999-2018 shipped by the ``arch`` package (no download)."""
    from arch.data import sp500

    frame = normalise_frame(sp500.load(), source="arch.data.sp500")
    return make_candles(frame, "SP500", "1d", source="arch.data.sp500")

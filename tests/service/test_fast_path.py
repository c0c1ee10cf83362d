"""The fast path (orjson + numpy) answers exactly as the ordinary FastAPI handler does."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import ValidationSettings, candles_from_columns
from ai_engine.errors import DataValidationError
from ai_engine.service import fastpath
from ai_engine.service.fastjson import parse_candles
from ai_engine.service.schemas import ForecastOut, SignalOut
from service.helpers import candle_rows, signal_body

from synthetic import synthetic_frame


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the requests that took the fast path (it routes them itself; the ordinary
    handler never calls fastpath's ``routed_engine``)."""
    calls: list[int] = []
    original = fastpath.routed_engine

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastpath, "routed_engine", counted)
    return calls


def _without_clock(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "generated_at"}


def _columns_body() -> dict[str, Any]:
    rows = candle_rows()
    body = signal_body()
    del body["candles"]
    body["columns"] = {k: [r[k] for r in rows] for k in "tohlcv"}
    return body


@pytest.mark.parametrize(
    ("path", "model"), [("/v1/signal", SignalOut), ("/v1/forecast", ForecastOut)]
)
def test_fast_and_ordinary_paths_answer_the_same(
    client: TestClient, fast_calls: list[int], path: str, model: Any
) -> None:
    fast = client.post(path, json=signal_body())
    assert fast.status_code == 200 and fast_calls == [1], fast.text
    model.model_validate(fast.json())  # the fast answer is of the schema it skips
    ordinary = client.post(f"{path}?ordinary=1", json=signal_body())  # any other query: ordinary
    assert ordinary.status_code == 200 and fast_calls == [1]
    assert _without_clock(fast.json()) == _without_clock(ordinary.json())
    columns = client.post(path, json=_columns_body())
    assert columns.status_code == 200 and fast_calls == [1, 1]
    assert _without_clock(columns.json()) == _without_clock(fast.json())


def test_iso_timestamps_take_the_fast_path_to_the_same_answer(
    client: TestClient, fast_calls: list[int]
) -> None:
    body = signal_body()
    for row in body["candles"]:
        row["t"] = np.datetime64(row["t"], "ms").astype(str) + "Z"
    iso = client.post("/v1/signal", json=body)
    assert iso.status_code == 200 and fast_calls == [1]  # issue 26: no longer the slow path
    fast = client.post("/v1/signal", json=signal_body())
    assert _without_clock(iso.json()) == _without_clock(fast.json())


PLAIN = json.dumps(signal_body()).encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["candles"][3].update(c=True),  # a bool pydantic would judge
        lambda b: b["candles"][3].update(t=float(b["candles"][3]["t"])),
        lambda b: b["candles"][3].update(o="1.5"),
        lambda b: b["candles"][3].update(x=1),
        lambda b: b["candles"][3].pop("v"),
        lambda b: b["candles"][3].update(t=10**15),
        lambda b: b.update(extra=1),
        lambda b: b.update(columns=None),
        lambda b: b.update(timeframe="5m\n"),
        lambda b: b.update(symbol=""),
        lambda b: b.update(candles=[[1, 2, 3, 4, 5, 6]] * 3),
    ],
)
def test_anything_unusual_is_left_to_pydantic(change: Any) -> None:
    body = json.loads(PLAIN)
    change(body)
    assert parse_candles(json.dumps(body).encode()) is None
    assert parse_candles(PLAIN.replace(b'"c": ', b'"c": NaN, "x": ', 1)) is None


def test_parsed_columns_are_the_rows() -> None:
    parsed = parse_candles(PLAIN)
    assert parsed is not None and parsed.loc == ["body", "candles"]
    rows = candle_rows()
    assert parsed.times.tolist() == [r["t"] for r in rows]
    assert parsed.values.tolist() == [[r[k] for k in "ohlcv"] for r in rows]


def _core_and_fast(frame: Any, settings: ValidationSettings) -> tuple[Any, Any]:
    columns = {"date": (frame.index.asi8 // 1_000_000).tolist(), **frame.to_dict("list")}
    results: list[Any] = []
    for make in (
        lambda: candles_from_columns(columns, "S", "1d", settings),
        lambda: candles_from_arrays(frame.index.asi8, frame.to_numpy(), "S", "1d", settings),
    ):
        try:
            results.append(make())
        except DataValidationError as exc:
            results.append(str(exc))
    return results[0], results[1]


@pytest.mark.parametrize("weekends", [True, False])
@pytest.mark.parametrize("broken", ["none", "gaps", "many gaps", "duplicate", "high", "nan"])
def test_array_validation_is_the_core_validation(weekends: bool, broken: str) -> None:
    frame = synthetic_frame(300, seed=1)
    frame.index = pd.date_range("2020-01-01", periods=300, freq="D", tz="UTC", name="date")
    if not weekends:
        frame = frame[frame.index.dayofweek < 5]
    if broken in ("gaps", "many gaps"):
        frame = frame.drop(frame.index[10 : 200 : (20 if broken == "gaps" else 3)])
    elif broken == "duplicate":
        frame.index = frame.index.where(np.arange(len(frame)) != 7, frame.index[6])
    elif broken == "high":
        frame.iloc[9, 1] = 0.5 * frame.iloc[9, 2]
    elif broken == "nan":
        frame.iloc[4, 3] = np.nan
    core, fast = _core_and_fast(frame, ValidationSettings(min_rows=50))
    if isinstance(core, str):
        assert fast == core
    else:
        assert fast.warnings == core.warnings and fast.frame.equals(core.frame)
        assert list(fast.frame.index) == list(core.frame.index)

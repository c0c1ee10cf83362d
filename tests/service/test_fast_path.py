"""The candle routes' one handler: the fast parse (orjson + numpy) answers exactly as the
pydantic branch does, and router-level dependencies run for every body."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import Depends, HTTPException
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
    """Counts the requests that the candle routes answered (both branches route through
    fastpath's ``routed_engine``)."""
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


def pydantic_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the fast parse refuse every body, so that the handler's pydantic branch reads it."""
    monkeypatch.setattr(fastpath, "parse_candles", lambda body, with_names=True: None)


@pytest.mark.parametrize(
    ("path", "model"), [("/v1/signal", SignalOut), ("/v1/forecast", ForecastOut)]
)
def test_the_fast_parse_and_the_pydantic_branch_answer_the_same(
    client: TestClient,
    fast_calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    model: Any,
) -> None:
    fast = client.post(path, json=signal_body())
    assert fast.status_code == 200 and fast_calls == [1], fast.text
    model.model_validate(fast.json())  # the fast answer is of the schema it skips
    columns = client.post(path, json=_columns_body())
    assert columns.status_code == 200 and fast_calls == [1, 1]
    assert _without_clock(columns.json()) == _without_clock(fast.json())
    pydantic_branch(monkeypatch)
    spaced = json.dumps(signal_body(), indent=1)  # other bytes: not in the body cache
    read = client.post(path, content=spaced)
    assert read.status_code == 200 and fast_calls == [1, 1, 1], read.text
    assert _without_clock(read.json()) == _without_clock(fast.json())


def test_router_dependencies_run_for_plain_bodies(client: TestClient) -> None:
    """A router-level dependency (auth, a rate limit) runs on every candle request: the one
    handler is an ordinary FastAPI endpoint, with no dispatcher before its dependencies."""
    from ai_engine.service.routes import signal, stream

    calls: list[str] = []

    async def count() -> None:
        calls.append("called")

    async def refuse() -> None:
        raise HTTPException(401, "refused by the router's dependency")

    app: Any = client.app
    for prefix, dependency in (("/counted", count), ("/refused", refuse)):
        for router in (signal.router, stream.router):
            app.include_router(router, prefix=prefix, dependencies=[Depends(dependency)])
    body = signal_body()
    window = {"candles": body["candles"]}
    plain = [("/v1/signal", body), ("/v1/forecast", body), ("/v1/stream/DEP/5m", window)]
    for path, sent in plain:
        answer = client.post(f"/counted{path}", json=sent)
        assert answer.status_code == 200, answer.text
        assert client.post(f"/refused{path}", json=sent).status_code == 401
    assert calls == ["called"] * len(plain)


def test_the_release_query_is_release_querys_on_every_body(
    client: TestClient, fast_calls: list[int]
) -> None:
    """``<alias>@<model_set>`` and ids up to 128 characters are routed by the one handler (the
    old fast path's own pattern sent them another way); a bad one is a 422 naming the query."""
    pinned = client.post("/v1/signal?release=production@nosuchset", json=signal_body())
    assert pinned.status_code == 404 and fast_calls == [1], pinned.text
    long = client.post(f"/v1/signal?release={'r' * 100}", json=signal_body())
    assert long.status_code == 404 and fast_calls == [1, 1], long.text
    bad = client.post("/v1/signal?release=-bad", json=signal_body())
    assert bad.status_code == 422 and "query.release" in bad.json()["error"]
    assert fast_calls == [1, 1]


@pytest.mark.parametrize("path", ["/v1/signal", "/v1/stream/SYN/5m"])
@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"", 422, "missing"),
        (b"{", 400, "json_invalid"),
        (b"[1]", 422, "model_attributes_type"),
        (b"null", 422, "model_attributes_type"),
        (b"\xff\xfe{", 400, None),  # not UTF-8
        (b"[" * 5000, 400, None),  # too deep for the parser
    ],
)
def test_a_body_the_fast_parse_refuses_gets_fastapis_own_answer(
    client: TestClient, path: str, body: bytes, status: int, kind: str | None
) -> None:
    """What FastAPI answered when it read the body parameter (checked against d5dc70a)."""
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    if kind is None:
        assert answer.json() == {"error": "There was an error parsing the body", "detail": []}
    else:
        assert detail[0]["type"] == kind and detail[0]["loc"] == ["body"]


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


def test_a_plain_body_is_answered_without_a_candle_frame(client: TestClient) -> None:
    """No pandas frame on the request path: the candles a plain body is validated into are
    arrays, and the signal and the forecast are made from them (a cold frame costs ~0.5 ms)."""
    bodies = client.app.state.service.bodies  # type: ignore[attr-defined]
    for path in ("/v1/signal", "/v1/forecast"):
        response = client.post(path, json=signal_body())
        assert response.status_code == 200, response.text
    kept = [bodies.candles.get(key) for key in bodies.candles]
    assert kept and all(entry is not None for entry in kept)
    for candles, _ in kept:  # type: ignore[misc]
        assert candles.plain is not None and "frame" not in candles.__dict__

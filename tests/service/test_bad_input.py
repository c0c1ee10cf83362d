"""Bad input is a 422 (400 on /v2, 413 for an oversized body) naming the field, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.helpers import candle_rows, running_client, settings_for, signal_body

Rows = list[dict[str, Any]]


def _set(index: int, **values: Any) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        rows[index] = {**rows[index], **values}
        return rows

    return change


def _raw(body: str) -> tuple[str, str]:
    return ("raw", body)


def _literal(index: int, field: str, literal: str) -> tuple[str, str]:
    """A raw body whose ``candles[index][field]`` is a JSON literal such as NaN or 1e400."""
    body = signal_body()
    body["candles"][index][field] = "__LITERAL__"
    return _raw(json.dumps(body).replace('"__LITERAL__"', literal))


CASES: dict[str, tuple[Any, str]] = {
    # name: (body or row change, text the error must contain)
    "nan": (_literal(5, "c", "NaN"), "body.candles.5.c: Input should be a finite number"),
    "infinity": (_literal(7, "o", "Infinity"), "body.candles.7.o: Input should be a finite"),
    "-infinity": (_literal(8, "l", "-Infinity"), "body.candles.8.l: Input should be a finite"),
    "1e400": (_literal(9, "v", "1e400"), "body.candles.9.v: Input should be a finite"),
    "too few candles": ({"rows": candle_rows(50)}, "expected at least 200 candles"),
    "unsorted": (_set(10, t=candle_rows()[0]["t"] - 1), "sorted timestamps"),
    "duplicate": (_set(10, t=candle_rows()[9]["t"]), "duplicate timestamp"),
    "high < low": (_set(20, h=1.0), "high"),
    "negative price": (_set(3, o=-5.0), "price <= 0"),
    "wrong type": (_set(4, c="abc"), "body.candles.4.c"),
    "missing field": ({"drop": "c"}, "body.candles.0.c: Field required"),
    "extra field": (_set(1, extra=1), "body.candles.1.extra"),
    "empty body": (_raw(""), "body"),
    "empty candles": ({"rows": []}, "expected at least 200 candles"),
    "wrong timeframe": ({"timeframe": "1h"}, "timeframe '1h' differs"),
    "bad timeframe": ({"timeframe": "5 minutes"}, "body.timeframe"),
    "rows and columns": ({"columns": {k: [] for k in "tohlcv"}}, "exactly one of"),
    "columns of unequal length": (
        {
            "rows": None,
            "columns": {"t": [1, 2], "o": [1.0], "h": [1.0], "l": [1.0], "c": [1.0], "v": [1.0]},
        },
        "equal lengths",
    ),
    "mixed timestamps": (_set(2, t="2024-01-01T00:00:00Z"), "all numbers"),
    "timestamp out of range": (_set(2, t=10**20), "body.candles.2.t"),
    "too many candles": ({"rows": candle_rows(300)}, "at most 256 candles"),
}


def _request(client: TestClient, case: Any) -> Any:
    if isinstance(case, tuple) and case[0] == "raw":
        return client.post(
            "/v1/signal", content=case[1], headers={"content-type": "application/json"}
        )
    body = signal_body()
    if callable(case):
        body["candles"] = case([dict(r) for r in body["candles"]])
    else:
        if "rows" in case:
            body["candles"] = case["rows"]
        if "drop" in case:
            del body["candles"][0][case["drop"]]
        body.update({k: v for k, v in case.items() if k not in ("rows", "drop")})
    return client.post("/v1/signal", json=body)


@pytest.fixture(scope="module")
def limited(trained_registry: Path) -> Any:
    with running_client(settings_for(trained_registry, max_candles=256)) as c:
        yield c


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_422_naming_the_field(limited: TestClient, name: str) -> None:
    case, expected = CASES[name]
    response = _request(limited, case)
    assert response.status_code == 422, (name, response.status_code, response.text)
    body = response.json()
    assert expected in body["error"], (name, body["error"])
    assert body["detail"] and all(d["loc"] for d in body["detail"])
    assert "NaN" not in response.text and "Infinity" not in response.text


def test_an_oversized_body_is_413_before_parsing(limited: TestClient) -> None:
    response = limited.post(
        "/v1/signal", content=b"x" * 10_000_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "AI_ENGINE_MAX_CANDLES" in response.json()["error"]

    def chunks() -> Any:  # no content-length: the body is counted while it arrives
        for _ in range(200):
            yield b"x" * 65_536

    chunked = limited.post(
        "/v1/signal", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413


def test_a_chunked_body_within_the_limit_is_served(limited: TestClient) -> None:
    payload = json.dumps(signal_body()).encode()
    response = limited.post(
        "/v1/signal",
        content=iter([payload[:1000], payload[1000:]]),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_every_row_bad_still_gives_a_short_answer(limited: TestClient) -> None:
    body = signal_body()
    for row in body["candles"]:
        row["c"] = "__LITERAL__"
    raw = json.dumps(body).replace('"__LITERAL__"', "NaN")
    response = limited.post("/v1/signal", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "NaN" not in response.text
    assert len(response.json()["detail"]) == 20 and "(and 253 more)" in response.json()["error"]


@pytest.mark.parametrize(
    ("fields", "factor"), [("ohlc", 1e300), ("ohlc", 1e-300), ("v", 1e300), ("v", 0.0)]
)
def test_extreme_finite_values_are_answered_or_refused_never_500(
    limited: TestClient, fields: str, factor: float
) -> None:
    rows = candle_rows()
    for row in rows:
        for field in fields:
            row[field] *= factor
    response = limited.post("/v1/signal", json=signal_body(rows))
    assert response.status_code in (200, 422), response.text
    assert "NaN" not in response.text and "Infinity" not in response.text

"""ISO-8601 timestamps on the one fast path (issue 26): rows or columns, ``Z`` or offsets, the
same signal as epoch milliseconds, kept by the body cache like any body; a bad or mixed one gets
exactly the pydantic branch's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ai_engine.service import fastpath
from service.helpers import running_client, settings_for, signal_body

EAST = timezone(timedelta(hours=5, minutes=30))
WEST = timezone(timedelta(hours=-3))


def iso(ms: int, zone: timezone = UTC) -> str:
    text = datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if zone is UTC else text


def iso_body(columns: bool = False, zone: timezone = UTC) -> dict[str, Any]:
    body = signal_body()
    for number, row in enumerate(body["candles"]):
        row["t"] = iso(row["t"], zone if number % 2 else UTC)  # offsets differ row to row
    if columns:
        rows = body.pop("candles")
        body["columns"] = {k: [r[k] for r in rows] for k in "tohlcv"}
    return body


def counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(fastpath, name)

    def count(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fastpath, name, count)
    return calls


def without_clock(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("generated_at", "valid_until")}


@pytest.mark.parametrize("path", ["/v1/signal", "/v1/forecast"])
def test_iso_bodies_answer_as_epoch_bodies_on_the_fast_path(
    trained_registry: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    parses = counted(monkeypatch, "parse_candles")
    validations = counted(monkeypatch, "arrays_candles")
    with running_client(settings_for(trained_registry)) as client:
        epoch = client.post(path, json=signal_body())
        assert epoch.status_code == 200, epoch.text
        bodies = [iso_body(), iso_body(zone=EAST), iso_body(columns=True, zone=WEST)]
        for number, body in enumerate(bodies, start=2):
            content = json.dumps(body).encode()
            first, again = (client.post(path, content=content) for _ in range(2))
            assert first.status_code == again.status_code == 200, first.text
            assert without_clock(first.json()) == without_clock(epoch.json())
            assert without_clock(again.json()) == without_clock(epoch.json())
            assert parses == [1] * number and validations == [1] * number  # again: the cache
        cache = client.app.state.service.bodies  # type: ignore[attr-defined]
        assert len(cache.parsed) == 4 and len(cache.candles) == 4


@pytest.mark.parametrize(
    "change",
    [
        lambda rows: rows[5].update(t="2018-02-30T00:00:00Z"),  # no such day
        lambda rows: rows[5].update(t=rows[5]["t"].replace("Z", "+01:00")),  # a second layout
        lambda rows: rows[5].update(t=rows[4]["t"]),  # a duplicate timestamp
        lambda rows: rows[5].update(t="yesterday"),
        lambda rows: rows[5].update(t=1_500_000_000_000),  # a mix of kinds
        lambda rows: rows[5].update(t="1" * 41),
    ],
)
def test_a_bad_iso_body_gets_the_pydantic_answer(
    client: TestClient, change: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = iso_body()
    change(body["candles"])
    fast = client.post("/v1/signal", json=body)
    monkeypatch.setattr(fastpath, "parse_candles", lambda body, with_names=True: None)
    read = client.post("/v1/signal", content=json.dumps(body, indent=1))  # not in the cache
    assert fast.status_code == read.status_code and fast.status_code in (400, 422)
    assert fast.json() == read.json()


def test_a_stream_of_iso_candles_follows_as_an_epoch_stream(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_engine.service.routes import stream

    slow: list[int] = []  # the pydantic branch's pandas parser
    original = stream.candles_from_columns

    def count(*args: Any, **kwargs: Any) -> Any:
        slow.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(stream, "candles_from_columns", count)
    epoch_rows = signal_body()["candles"]
    iso_rows = iso_body(zone=EAST)["candles"]
    answers: dict[str, list[dict[str, Any]]] = {}
    for symbol, rows in (("EPOCH", epoch_rows), ("ISO", iso_rows)):
        path = f"/v1/stream/{symbol}/5m"
        window = client.post(path, json={"candles": rows[:250]})
        assert window.status_code == 200, window.text
        steps = [client.post(path, json={"candles": rows[end - 1 : end]}) for end in (251, 252)]
        assert all(s.status_code == 200 for s in steps), steps[0].text
        answers[symbol] = [without_clock(r.json()) for r in (window, *steps)]
    assert slow == []  # every request on the fast path
    for ours, theirs in zip(answers["ISO"], answers["EPOCH"], strict=True):
        assert {k: v for k, v in ours.items() if k != "symbol"} == {
            k: v for k, v in theirs.items() if k != "symbol"
        }

"""POST /v1/stream/{symbol}/{timeframe} against a real ``ai-engine serve`` process: the window
starts from a full window, follows candle by candle, refuses gaps, duplicates and earlier
candles with a 409 naming the expected candle, and is lost on restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.helpers import candle_rows
from service.server import served, wait

ROWS = candle_rows(600)
WINDOW = 256
STREAM = "/v1/stream/BTC/USDT/5m"


def _signal(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"symbol": "BTC/USDT", "timeframe": "5m", "candles": rows}
    response = httpx.post(f"{url}/v1/signal", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return _same_part(response.json())


def _same_part(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "generated_at"}


def _post(url: str, rows: list[dict[str, Any]], path: str = STREAM) -> httpx.Response:
    return httpx.post(f"{url}{path}", json={"candles": rows}, timeout=60)


@pytest.fixture(scope="module")
def url(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("stream") / "serve.log"
    with served(trained_registry, log) as base:
        wait(lambda: httpx.get(f"{base}/health/ready", timeout=5).status_code == 200)
        yield base


def test_a_window_follows_candle_by_candle_as_the_full_window_would(url: str) -> None:
    first = _post(url, ROWS[100:200])
    assert first.status_code == 409 and "expected a full window of at least 200" in first.text
    start = _post(url, ROWS[:WINDOW])
    assert start.status_code == 200, start.text
    assert _same_part(start.json()) == _signal(url, ROWS[:WINDOW])
    for end in range(WINDOW + 1, WINDOW + 4):
        step = _post(url, ROWS[end - 1 : end])
        assert step.status_code == 200, step.text
        assert _same_part(step.json()) == _signal(url, ROWS[end - WINDOW : end])
    two = _post(url, ROWS[WINDOW + 3 : WINDOW + 5])  # several new candles at once
    assert _same_part(two.json()) == _signal(url, ROWS[5 : WINDOW + 5])


@pytest.mark.parametrize(
    ("offset", "what"),
    [(0, "a duplicate"), (-3, "an earlier candle"), (2, "a gap")],
)
def test_a_candle_that_does_not_continue_the_window_is_409(
    url: str, offset: int, what: str
) -> None:
    path = f"/v1/stream/GAP{offset}/5m"
    assert _post(url, ROWS[:WINDOW], path).status_code == 200
    response = _post(url, [ROWS[WINDOW - 1 + offset]], path)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error.startswith("body.candles.0.t: expected the next 5m candle of GAP")
    assert what in error and "resend the full window (at least 200 candles)" in error
    assert response.json()["detail"][0]["loc"] == ["body", "candles", 0, "t"]
    assert _post(url, [ROWS[WINDOW]], path).status_code == 200  # the window is unchanged


def test_bad_candles_are_422_naming_the_field_and_leave_the_window(url: str) -> None:
    path = "/v1/stream/BAD/5m"
    assert _post(url, ROWS[:WINDOW], path).status_code == 200
    broken = {**ROWS[WINDOW], "h": ROWS[WINDOW]["l"] / 2}
    response = _post(url, [broken], path)
    assert response.status_code == 422 and "body.candles" in response.json()["error"]
    nan = httpx.post(f"{url}{path}", content=b'{"candles": [{"t": 1, "o": NaN}]}', timeout=60)
    assert nan.status_code == 422 and "body.candles.0" in nan.json()["error"]
    assert _post(url, [ROWS[WINDOW]], path).status_code == 200
    wrong = _post(url, [ROWS[WINDOW + 1]], "/v1/stream/BAD/1h")
    assert wrong.status_code == 422 and "timeframe '1h' differs" in wrong.json()["error"]


def test_columns_and_iso_timestamps_stream_too(url: str) -> None:
    path = "/v1/stream/COLS/5m"
    rows = ROWS[:WINDOW]
    columns = {k: [r[k] for r in rows] for k in "tohlcv"}
    assert httpx.post(f"{url}{path}", json={"columns": columns}, timeout=60).status_code == 200
    iso = {**ROWS[WINDOW], "t": _iso(ROWS[WINDOW]["t"])}
    response = _post(url, [iso], path)  # an ISO-8601 timestamp with an offset
    assert response.status_code == 200, response.text
    assert _same_part(response.json())["as_of"] == _signal(url, ROWS[1 : WINDOW + 1])["as_of"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_a_restart_loses_the_windows(trained_registry: Path, tmp_path: Path) -> None:
    with served(trained_registry, tmp_path / "serve.log") as base:
        wait(lambda: httpx.get(f"{base}/health/ready", timeout=5).status_code == 200)
        assert _post(base, ROWS[:WINDOW]).status_code == 200
        assert _post(base, [ROWS[WINDOW]]).status_code == 200
    with served(trained_registry, tmp_path / "again.log") as base:
        wait(lambda: httpx.get(f"{base}/health/ready", timeout=5).status_code == 200)
        lost = _post(base, [ROWS[WINDOW + 1]])
        assert lost.status_code == 409 and "no window" in lost.json()["error"]
        assert _post(base, ROWS[2 : WINDOW + 2]).status_code == 200


def _window_lookups(url: str) -> float:
    lines = httpx.get(f"{url}/metrics", timeout=10).text.splitlines()
    return sum(float(x.split()[1]) for x in lines if x.startswith("ai_engine_window_cache_total"))


def test_streamed_windows_stay_out_of_the_window_cache(url: str) -> None:
    """A streamed window never comes again: it is not looked up in, or put into, the cache of
    windows that polling clients send again (it would push theirs out)."""
    path = "/v1/stream/CACHE/USDT/5m"
    before = _window_lookups(url)
    assert _post(url, ROWS[:WINDOW], path).status_code == 200
    for end in range(WINDOW + 1, WINDOW + 6):
        assert _post(url, ROWS[end - 1 : end], path).status_code == 200
    assert _window_lookups(url) == before
    _signal(url, ROWS[:WINDOW])  # the stateless route still counts its lookup
    assert _window_lookups(url) == before + 1

"""The body cache: a body sent again skips parsing and validation, and answers as if it had not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ai_engine.service import fastpath
from ai_engine.service.body_cache import BodyCache, Recent
from ai_engine.service.deps import ServiceState
from service.helpers import (
    ADMIN,
    candle_rows,
    clone_release,
    production_id,
    running_client,
    settings_for,
    signal_body,
)


def _calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Counts the calls of fastpath's ``name`` (which still runs)."""
    calls: list[int] = []
    original = getattr(fastpath, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fastpath, name, counted)
    return calls


def _bodies(client: TestClient) -> BodyCache:
    service: ServiceState = client.app.state.service  # type: ignore[attr-defined]
    return service.bodies


def _without_clock(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("generated_at", "valid_until")}


@pytest.mark.parametrize("stale_check", [False, True])
@pytest.mark.parametrize("path", ["/v1/signal", "/v1/forecast"])
def test_a_body_sent_again_answers_as_the_uncached_path(
    trained_registry: Path, monkeypatch: pytest.MonkeyPatch, path: str, stale_check: bool
) -> None:
    """Three times the same bytes: parsed and validated once, the same answer each time, and
    the same as a server without the cache (window cache 0) gives; the stamps are new."""
    body = json.dumps(signal_body()).encode()
    parses = _calls(monkeypatch, "parse_candles")
    validations = _calls(monkeypatch, "arrays_candles")
    settings = settings_for(trained_registry, stale_check=stale_check)
    with running_client(settings) as client:
        answers = [client.post(path, content=body) for _ in range(3)]
        assert len(_bodies(client).parsed) == 1 and len(_bodies(client).candles) == 1
    assert all(a.status_code == 200 for a in answers), answers[0].text
    assert parses == [1] and validations == [1]
    uncached_settings = settings_for(trained_registry, stale_check=stale_check, window_cache=0)
    with running_client(uncached_settings) as c:
        uncached = c.post(path, content=body)
        assert not _bodies(c).enabled and len(_bodies(c).parsed) == 0
    assert parses == [1, 1] and validations == [1, 1]  # without the cache: parsed again
    expected = _without_clock(uncached.json())
    assert [_without_clock(a.json()) for a in answers] == [expected] * 3
    assert answers[2].json()["generated_at"] >= answers[0].json()["generated_at"]
    if path == "/v1/signal":
        assert (answers[0].json()["reason"] == "stale_data") is stale_check  # 2018 candles


def test_a_bad_body_gets_its_4xx_every_time_and_is_not_kept(client: TestClient) -> None:
    """A plain body that fails validation (a repeated timestamp), and one the fast path leaves
    to pydantic (ISO timestamps, a missing field), answer the same 4xx twice; no candles kept."""
    rows = candle_rows()
    rows[-1]["t"] = rows[-2]["t"]
    repeated = json.dumps(signal_body(rows)).encode()
    iso = signal_body(rows)
    for row in iso["candles"]:
        row["t"] = np.datetime64(row["t"], "ms").astype(str) + "Z"
    broken = signal_body()
    del broken["candles"][3]["v"]
    bodies = _bodies(client)
    kept = len(bodies.candles)
    for content, status in [
        (repeated, 422),
        (json.dumps(iso).encode(), 422),
        (json.dumps(broken).encode(), 422),
    ]:
        first, second = (client.post("/v1/signal", content=content) for _ in range(2))
        assert first.status_code == second.status_code == status, first.text
        assert first.json() == second.json() and first.json()["detail"][0]["loc"][:2] == [
            "body",
            "candles",
        ]
    assert len(bodies.candles) == kept


def test_a_hot_swap_validates_afresh_for_the_new_release(
    registry_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same body before and after a promote: the new release validates it again and
    answers under its own id (never the old release's candles or decision)."""
    first = production_id(registry_copy)
    second = clone_release(registry_copy)
    body = json.dumps(signal_body()).encode()
    validations = _calls(monkeypatch, "arrays_candles")
    with running_client(settings_for(registry_copy)) as client:
        before = [client.post("/v1/signal", content=body).json() for _ in range(2)]
        promote = client.post("/v1/models/promote", headers=ADMIN, json={"release": second})
        assert promote.status_code == 200 and promote.json()["reload"]["ok"], promote.text
        after = [client.post("/v1/signal", content=body).json() for _ in range(2)]
        keys = {release for release, _ in _bodies(client).candles}
    assert [a["release"] for a in before + after] == [first, first, second, second]
    assert validations == [1, 1]  # once per release
    assert keys == {first, second}
    assert _without_clock(after[0]) == {**_without_clock(before[0]), "release": second}


def test_the_body_cache_is_bounded(trained_registry: Path) -> None:
    """``AI_ENGINE_WINDOW_CACHE`` bodies at most, the least recently used out first."""
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "b" is now the least recently used
    recent.put("c", 3)
    assert len(recent) == 2 and recent.get("b") is None and recent.get("a") == 1
    rows = candle_rows(300)
    bodies = [json.dumps(signal_body(rows[k : k + 256])).encode() for k in (0, 20, 40)]
    with running_client(settings_for(trained_registry, window_cache=2)) as client:
        for body in bodies:
            assert client.post("/v1/signal", content=body).status_code == 200
        cache = _bodies(client)
        assert len(cache.parsed) == 2 and len(cache.candles) == 2
        assert cache.parsed.get(cache.key(bodies[0])) is None
        assert cache.parsed.get(cache.key(bodies[2])) is not None

"""Micro-batching: concurrent requests share predict calls and get the answers they would alone."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from ai_engine.data import Candles, make_candles
from ai_engine.engine import Engine, WindowMemo
from ai_engine.errors import BundleError
from ai_engine.features import latest_inputs
from ai_engine.serving.batcher import ForecastBatcher
from service.helpers import (
    FRAME,
    SYMBOL,
    TIMEFRAME,
    candle_rows,
    clone_release,
    running_client,
    settings_for,
    signal_body,
)


def two_releases(trained_registry: Path, registry_copy: Path) -> tuple[Engine, Engine]:
    """Engines of two releases with the same models: the trained one and a copy."""
    return Engine.load(trained_registry), Engine.load(registry_copy, clone_release(registry_copy))


def windows_ending(ends: range) -> list[Candles]:
    """Windows of 256 test candles ending before each of ``ends``."""
    return [make_candles(FRAME.iloc[end - 256 : end], SYMBOL, TIMEFRAME) for end in ends]


def test_a_batch_answers_like_single_calls(trained_registry: Path, registry_copy: Path) -> None:
    first, second = two_releases(trained_registry, registry_copy)
    windows = windows_ending(range(400, 600, 25))
    sizes: list[int] = []
    batcher = ForecastBatcher(max_batch=3, on_batch=sizes.append)

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(
            *(
                batcher.forecasts(engine, latest_inputs(c.frame, engine.spec))
                for c in windows
                for engine in (first, second)
            )
        )

    answers = asyncio.run(all_at_once())
    assert sorted(sizes) == [2, 2, 3, 3, 3, 3]  # 8 per engine, chunks of at most 3
    for i, candles in enumerate(windows):
        for j, engine in enumerate((first, second)):
            alone = engine.forecasts(candles)
            batched = answers[2 * i + j]
            assert [m.family for m in batched] == [m.family for m in alone]
            for a, b in zip(alone, batched, strict=True):
                np.testing.assert_allclose(b.forecast, a.forecast, rtol=1e-5, atol=1e-9)


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(
    trained_registry: Path,
) -> None:
    bodies = [signal_body(candle_rows(256 + k)[:256]) for k in range(0, 48, 6)]
    with running_client(settings_for(trained_registry, window_cache=0)) as client:
        app = client.app
        alone = [client.post("/v1/signal", json=body).json() for body in bodies]

        async def together() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await asyncio.gather(
                    *(
                        c.post(
                            "/v1/signal",
                            content=json.dumps(b),
                            headers={"content-type": "application/json"},
                        )
                        for b in bodies
                    )
                )

        batched = [r.json() for r in asyncio.run(together())]
        metrics = client.get("/metrics").text
    assert [b["as_of"] for b in batched] == [a["as_of"] for a in alone]
    assert len({a["as_of"] for a in alone}) == len(bodies)
    for a, b in zip(alone, batched, strict=True):
        assert b["action"] == a["action"]
        assert b["forecast"] == pytest.approx(a["forecast"], rel=1e-5, abs=1e-9)
    counts = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("ai_engine_batch_size_")
    }
    assert counts["ai_engine_batch_size_count"] < counts["ai_engine_batch_size_sum"]  # some > 1


def test_one_failure_reaches_every_waiting_request_and_no_other(trained_registry: Path) -> None:
    """A predict call that fails fails every request of its batch with that one error; the
    requests batched for another engine in the same moment are answered, and the batcher
    keeps working afterwards."""
    broken, healthy = Engine.load(trained_registry), Engine.load(trained_registry)
    member = broken.members[0]
    assert member.bundle is not None
    member.bundle.model.scaler_ = None  # this member's predict now raises a BundleError
    windows = [
        make_candles(FRAME.iloc[end - 256 : end], SYMBOL, TIMEFRAME) for end in range(450, 600, 30)
    ]
    sizes: list[int] = []
    batcher = ForecastBatcher(on_batch=sizes.append)

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(
            *(
                batcher.forecasts(engine, latest_inputs(c.frame, engine.spec))
                for c in windows
                for engine in (broken, healthy)
            ),
            return_exceptions=True,
        )

    answers = asyncio.run(all_at_once())
    failures, answered = answers[0::2], answers[1::2]
    assert all(isinstance(f, BundleError) for f in failures), failures
    assert len({id(f) for f in failures}) == 1  # one predict call, its one error, five requests
    assert f"{member.family}: predict called before fit or load" in str(failures[0])
    assert sizes == [len(windows)]  # only the healthy engine's batch was answered
    for candles, forecasts in zip(windows, answered, strict=True):
        alone = healthy.forecasts(candles)
        for a, b in zip(alone, forecasts, strict=True):  # equal up to float rounding
            np.testing.assert_allclose(b.forecast, a.forecast, rtol=1e-5, atol=1e-7)

    async def once_more() -> list[Any]:
        return await batcher.forecasts(healthy, latest_inputs(windows[0].frame, healthy.spec))

    assert len(asyncio.run(once_more())) == len(healthy.members) and sizes == [5, 1]


def window_cache_counts(metrics: str) -> dict[str, float]:
    return {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("ai_engine_window_cache_total")
    }


def test_a_window_sent_again_reuses_its_forecasts_and_a_changed_one_does_not(
    trained_registry: Path,
) -> None:
    """The same window twice: one computation, the same forecasts, a fresh signal stamp; one
    changed close: computed afresh. Both are counted in /metrics."""
    body = signal_body(candle_rows(256))
    changed = json.loads(json.dumps(body))
    changed["candles"][-1]["c"] = changed["candles"][-1]["l"]  # still within [low, high]
    assert changed != body
    with running_client(settings_for(trained_registry, window_cache=4)) as client:
        first = client.post("/v1/signal", json=body).json()
        again = client.post("/v1/signal", json=body).json()
        other = client.post("/v1/signal", json=changed).json()
        counts = window_cache_counts(client.get("/metrics").text)
    assert counts == {
        'ai_engine_window_cache_total{result="miss"}': 2.0,
        'ai_engine_window_cache_total{result="hit"}': 1.0,
    }
    assert again["members"] == first["members"] and again["forecast"] == first["forecast"]
    assert again["generated_at"] >= first["generated_at"]
    assert [m["forecast"] for m in other["members"]] != [m["forecast"] for m in first["members"]]


def test_the_window_cache_is_bounded_and_keyed_by_release(
    trained_registry: Path, registry_copy: Path
) -> None:
    first, second = two_releases(trained_registry, registry_copy)
    windows = windows_ending(range(400, 500, 25))
    seen: list[bool] = []
    batcher = ForecastBatcher(window_entries=2, on_window=seen.append)

    async def look(engine: Engine, candles: Any) -> None:
        await batcher.window_forecasts(engine, candles)

    for engine, candles in [
        (first, windows[0]),
        (second, windows[0]),  # another release: its own entry
        (first, windows[0]),  # hit
        (first, windows[1]),  # evicts the least recently used: second's entry
        (second, windows[0]),  # miss again
    ]:
        asyncio.run(look(engine, candles))
    assert seen == [False, False, True, False, False]


def test_a_remembered_decision_is_gated_and_stamped_anew(trained_registry: Path) -> None:
    """``signal_from`` with a window's memo answers exactly as without it, for a fresh and a
    stale clock alike (the stale check is made anew each call), and hands out lists of its own."""
    engine = Engine.load(trained_registry)
    candles = windows_ending(range(600, 601))[0]
    inputs = latest_inputs(candles.frame, engine.spec)
    forecasts = engine.forecasts_many([inputs])[0]
    last = candles.frame.index[-1].to_pydatetime()
    memo = WindowMemo()
    stamps = set()
    for now in (last + timedelta(minutes=1), last + timedelta(days=1), last + timedelta(minutes=2)):
        remembered = engine.signal_from(candles, forecasts, inputs, now, memo).to_json()
        assert remembered == engine.signal_from(candles, forecasts, inputs, now).to_json()
        stamps.add(remembered["generated_at"])
        remembered["forecast"].append(0.0)  # a caller changing its answer changes no other
        remembered["members"][0]["forecast"].append(0.0)
    assert len(stamps) == 3 and len(memo.signals) == 2
    fresh, stale = sorted(memo.signals, key=len)
    assert stale == (*fresh, "stale_data")

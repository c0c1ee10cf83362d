"""Micro-batching: concurrent requests share predict calls and get the answers they would alone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from ai_engine.data import make_candles
from ai_engine.engine import Engine
from ai_engine.features import latest_inputs
from ai_engine.service.batcher import ForecastBatcher
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


def test_a_batch_answers_like_single_calls(trained_registry: Path, registry_copy: Path) -> None:
    first = Engine.load(trained_registry)
    second = Engine.load(registry_copy, clone_release(registry_copy))
    windows = [
        make_candles(FRAME.iloc[end - 256 : end], SYMBOL, TIMEFRAME) for end in range(400, 600, 25)
    ]
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
    with running_client(settings_for(trained_registry)) as client:
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

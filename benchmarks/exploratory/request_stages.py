"""Per-stage thread-CPU of one distinct 256-candle window, in process, the fast path's calls.

    .venv/bin/python benchmarks/exploratory/request_stages.py REGISTRY [SORT]

Builds 500 distinct /v1/signal bodies from the demo's S&P 500 candles and times, per body,
the stages the service runs: ``parse_candles``, ``arrays_candles`` (validation), features
(``candle_inputs``), the four members (``forecasts_many``), ``signal_from`` and ``to_json``;
prints the median µs of each over 450 bodies after 50 of warm-up. With ``SORT`` (``tottime``,
``cumulative``) it runs under cProfile and prints the top 50 functions instead.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime

import orjson
import torch

from ai_engine.data import demo_candles
from ai_engine.engine import Engine
from ai_engine.features import candle_inputs
from ai_engine.service.fastjson import parse_candles
from ai_engine.service.fastpath import arrays_candles

STAGES = ("parse", "validate", "features", "members", "signal_from", "to_json")


def bodies(count: int, candles: int = 256) -> list[bytes]:
    """``count`` plain bodies, each window one bar earlier than the last."""
    frame = demo_candles().frame
    stamps = (frame.index.asi8 // 1_000_000).tolist()
    rows = frame[["open", "high", "low", "close", "volume"]].to_numpy().tolist()
    out = []
    for k in range(count):
        start = len(frame) - candles - k
        window = [
            {"t": stamps[i], "o": r[0], "h": r[1], "l": r[2], "c": r[3], "v": r[4]}
            for i, r in ((i, rows[i]) for i in range(start, start + candles))
        ]
        out.append(orjson.dumps({"symbol": "SP500", "timeframe": "1d", "candles": window}))
    return out


def main() -> None:
    torch.set_num_threads(1)
    engine = Engine.load(sys.argv[1], "production", threads=1)
    timings: dict[str, list[float]] = {name: [] for name in STAGES}

    def one(body: bytes) -> None:
        clock = time.thread_time
        t0 = clock()
        parsed = parse_candles(body)
        assert parsed is not None
        t1 = clock()
        candles = arrays_candles(parsed, engine, 5000, parsed.symbol, parsed.timeframe)
        t2 = clock()
        inputs = candle_inputs(candles, engine.spec)
        t3 = clock()
        forecasts = engine.forecasts_many([inputs])[0]
        t4 = clock()
        signal = engine.signal_from(candles, forecasts, inputs, datetime.now(UTC), None)
        t5 = clock()
        signal.to_json()
        t6 = clock()
        marks = (t0, t1, t2, t3, t4, t5, t6)
        for name, start, end in zip(STAGES, marks, marks[1:], strict=False):
            timings[name].append(end - start)

    made = bodies(500)
    for body in made[:50]:
        one(body)
    for spent in timings.values():
        spent.clear()
    if len(sys.argv) > 2:
        profile = cProfile.Profile()
        profile.enable()
        for body in made[50:]:
            one(body)
        profile.disable()
        pstats.Stats(profile).sort_stats(sys.argv[2]).print_stats(50)
        return
    for body in made[50:]:
        one(body)
    total = 0.0
    for name, spent in timings.items():
        median = statistics.median(spent) * 1e6
        total += median
        print(f"{name:12s} {median:8.0f} us")
    print(f"{'sum':12s} {total:8.0f} us")


if __name__ == "__main__":
    main()

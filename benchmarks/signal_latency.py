"""In-process signal latency: one symbol, features included, from a loaded release.

Usage: python benchmarks/signal_latency.py --registry DIR [--release production] [--calls 500]
       [--candles 256] [--threads 1]

Trains nothing: give it a registry made by `ai-engine demo --registry DIR`. Candles are the
last N bars of the demo's S&P 500 data; each call validates them, computes the features and
asks all four members.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ai_engine.data import ValidationSettings, demo_candles, make_candles
from ai_engine.engine import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True)
    parser.add_argument("--release", default="production")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--candles", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    engine = Engine.load(args.registry, args.release, threads=args.threads)
    assert torch.get_num_threads() == args.threads
    load_s = time.perf_counter() - started
    frame = demo_candles().frame.iloc[-args.candles :]
    settings = ValidationSettings(min_rows=engine.required_candles)

    def one_signal() -> str:
        return engine.signal(make_candles(frame, "SP500", "1d", settings)).action

    for _ in range(20):
        one_signal()
    timings, cpu = [], []
    for _ in range(args.calls):
        t0, c0 = time.perf_counter(), time.thread_time()
        one_signal()
        timings.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    timings.sort()
    q = statistics.quantiles(timings, n=100)
    print(
        f"release {engine.release.id}: load+verify {load_s * 1000:.0f} ms; "
        f"{args.calls} signals on {args.candles} candles, torch threads {args.threads}"
    )
    print(
        f"signal latency ms: median {statistics.median(timings):.2f}  p90 {q[89]:.2f}  "
        f"p99 {q[98]:.2f}  min {timings[0]:.2f}"
    )
    # CPU time of the calling thread: what a signal costs, less sensitive to a busy machine
    print(f"signal CPU ms: median {statistics.median(cpu):.2f}  min {min(cpu):.2f}")


if __name__ == "__main__":
    main()

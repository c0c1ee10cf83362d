"""Where `ai-engine signal`'s wall time goes, in one fresh process (issue 27 item 16).

Usage: python benchmarks/cli_signal_wall.py --registry DIR --data CANDLES [--release production]

Prints seconds for each step a first `ai-engine signal` takes: importing the CLI, reading and
validating the candles, importing the model libraries (torch, xgboost, lightgbm), loading and
verifying the release's bundles, and the signal itself. Run it in a fresh process each time:
the imports are the point.
"""

from __future__ import annotations

import argparse
import importlib
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--release", default="production")
    args = parser.parse_args()
    steps: dict[str, float] = {}
    start = time.perf_counter()
    importlib.import_module("ai_engine.cli")
    steps["import the CLI"] = time.perf_counter() - start
    from ai_engine.data import load_candles

    mark = time.perf_counter()
    candles = load_candles(args.data)
    steps["read + validate candles"] = time.perf_counter() - mark
    for library in ("torch", "xgboost", "lightgbm"):
        mark = time.perf_counter()
        importlib.import_module(library)
        steps[f"import {library}"] = time.perf_counter() - mark
    from ai_engine.engine import Engine

    mark = time.perf_counter()
    engine = Engine.load(args.registry, args.release)
    steps["load + verify the release"] = time.perf_counter() - mark
    mark = time.perf_counter()
    engine.signal(candles)
    steps["signal"] = time.perf_counter() - mark
    total = time.perf_counter() - start
    for name, seconds in steps.items():
        print(f"{name:28s} {seconds:6.2f} s")
    print(f"{'total':28s} {total:6.2f} s")


if __name__ == "__main__":
    main()

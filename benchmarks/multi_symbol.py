"""Many symbols in one run: --jobs 2 vs --jobs 1, Ray vs the process pool, peak memory, and
pooled vs per-symbol sequence models (validation MAE / zero forecast per symbol).

Eight symbols of 5-minute candles, the last ``--bars`` bars of each, re-dated to end at the same
bar (as a download of one period for every pair would be): ADA_BTC, ETH_BTC and
XRP_USDT_USDT from ../shared/data/crypto, UNITTEST_BTC-1m resampled to 5m, and four synthetic
markets (ai_engine.synthetic: two with a persistent drift, two random walks).

Runs, in order: per-symbol releases (``--group-by symbol``, 8 tasks) inline (``--jobs 1``), on a
local process pool (``--jobs 2``), on a local Ray instance (2 CPUs; started before timing); then
one pooled release (``--group-by timeframe``, one task). One JSON line per run goes to
benchmarks/results/multi_symbol.jsonl; a summary is printed. ``--seed`` changes the plan's seed
(every member's initialisation and batch order); ``--drop`` leaves symbols out; ``--config``
adds a training config file (e.g. ``window_scale = true`` for the sequence families).

    python benchmarks/multi_symbol.py [--preset quick] [--bars 1999] [--skip ray] [--seed 1]
        [--drop DRIFT_A DRIFT_B]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ai_engine.data import load_candles
from ai_engine.multi.executors import InlineExecutor, LocalPoolExecutor, RayExecutor
from ai_engine.multi.sources import load_sources
from ai_engine.multi.tasks import make_tasks, run_tasks
from ai_engine.synthetic import candles_from_returns, persistent_drift, random_walk

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("AI_ENGINE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
OUT = HERE / "out" / "multi_symbol"
RESULTS = HERE / "results" / "multi_symbol.jsonl"
END = pd.Timestamp("2024-06-30 23:55", tz="UTC")


def write_symbols(folder: Path, bars: int) -> list[str]:
    """Eight 5m candle files of ``bars`` bars each, all ending at ``END``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pd.DataFrame] = {}
    crypto = SHARED / "crypto"
    for name in ("ADA_BTC-5m.feather", "ETH_BTC-5m.feather", "XRP_USDT_USDT-5m-futures.feather"):
        candles = load_candles(crypto / name)
        frames[candles.symbol] = candles.frame
    minute = load_candles(crypto / "UNITTEST_BTC-1m.feather").frame
    frames["UNITTEST_BTC"] = (
        minute.resample("5min")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    n = bars + 10
    frames["DRIFT_A"] = candles_from_returns(persistent_drift(n, 11, drift_sigma=0.002), 11)
    frames["DRIFT_B"] = candles_from_returns(persistent_drift(n, 12, drift_sigma=0.002), 12)
    frames["WALK_A"] = candles_from_returns(random_walk(n, 13), 13)
    frames["WALK_B"] = candles_from_returns(random_walk(n, 14), 14)
    for symbol, frame in frames.items():
        tail = frame.iloc[-bars:].copy()
        if len(tail) < bars:
            raise SystemExit(f"{symbol}: {len(tail)} bars, fewer than --bars {bars}")
        tail.index = pd.date_range(end=END, periods=bars, freq="5min", tz="UTC", name="date")
        tail.reset_index().to_feather(folder / f"{symbol}-5m.feather")
    return sorted(frames)


def run(
    name: str, executor: Any, tasks_of: Any, root: Path, plan: dict[str, Any]
) -> dict[str, Any]:
    """One timed run into a fresh registry; the run's JSON line."""
    shutil.rmtree(root, ignore_errors=True)
    tasks = tasks_of(root)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    results = run_tasks(tasks, executor, root, None)
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    line = {
        "run": name,
        "executor": executor.name,
        "tasks": len(tasks),
        "wall_s": round(wall, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "peak_rss_mb_task": max(r["peak_rss_mb"] for r in results),
        "peak_rss_mb_children": round(children, 1),
        "peak_rss_mb_driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "task_seconds": [r["seconds"] for r in results],
        "per_symbol": {s: v for r in results for s, v in r["per_symbol"].items()},
        "plan": plan,
        "at": pd.Timestamp.now(tz="UTC").isoformat(),
    }
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    loads = f"load {load_before:.2f}->{line['load_after']:.2f}"
    print(f"{name}: {line['wall_s']} s, {loads}", flush=True)
    return line


def ratios(line: dict[str, Any], member: str) -> dict[str, float]:
    """Validation MAE / zero MAE per symbol for one member (or ``ensemble``), and their mean."""
    out = {
        s: round(v["members_mae"][member] / v["zero_mae"], 4)
        for s, v in sorted(line["per_symbol"].items())
    }
    return {**out, "mean": round(sum(out.values()) / len(out), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--bars", type=int, default=1999)
    parser.add_argument("--skip", nargs="*", default=[], choices=["ray", "pooled", "serial"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drop", nargs="*", default=[], help="Symbols to leave out.")
    parser.add_argument("--config", type=Path, default=None, help="JSON/TOML training config.")
    args = parser.parse_args()
    data = OUT / "data"
    shutil.rmtree(data, ignore_errors=True)
    for symbol in set(write_symbols(data, args.bars)) & set(args.drop):
        (data / f"{symbol}-5m.feather").unlink()
    sources, _ = load_sources([data])
    plan: dict[str, Any] = {"preset": args.preset, "seed": args.seed}
    if args.config is not None:
        plan["config"] = str(args.config.resolve())

    def per_symbol(root: Path) -> list[dict[str, Any]]:
        return make_tasks(sources, root, plan, group_by="symbol")

    def pooled(root: Path) -> list[dict[str, Any]]:
        return make_tasks(sources, root, plan, group_by="timeframe")

    lines = {}
    if "serial" not in args.skip:
        lines["jobs1"] = run("jobs1", InlineExecutor(), per_symbol, OUT / "jobs1", plan)
    lines["jobs2"] = run("jobs2", LocalPoolExecutor(2), per_symbol, OUT / "jobs2", plan)
    if "ray" not in args.skip:
        import ray

        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"ray.init: {time.perf_counter() - start:.1f} s", flush=True)
        lines["ray"] = run("ray", RayExecutor(), per_symbol, OUT / "ray", plan)
        ray.shutdown()
    if "pooled" not in args.skip:
        lines["pooled"] = run("pooled", InlineExecutor(), pooled, OUT / "pooled", plan)
    if "jobs1" in lines:
        print(f"speedup jobs2 vs jobs1: {lines['jobs1']['wall_s'] / lines['jobs2']['wall_s']:.2f}x")
    if "ray" in lines:
        print(f"ray / pool wall: {lines['ray']['wall_s'] / lines['jobs2']['wall_s']:.2f}")
    if "pooled" in lines:
        for member in ("nhits", "patchtst", "ensemble"):
            print(f"{member} MAE/zero per-symbol: {ratios(lines['jobs2'], member)}")
            print(f"{member} MAE/zero pooled:     {ratios(lines['pooled'], member)}")


if __name__ == "__main__":
    main()

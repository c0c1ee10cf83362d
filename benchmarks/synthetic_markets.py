"""Synthetic markets with known answers (issue 10): does the engine hold where nothing can be
predicted and trade where something can?

    .venv/bin/python benchmarks/synthetic_markets.py [--markets random_walk shuffled drift reversal]
        [--seeds 0 1 2] [--bars 6000] [--folds 3] [--preset quick]
        [--out benchmarks/results/synthetic_markets.jsonl]

Every run is a walk-forward backtest (``run_backtest``, training with inner folds inside each
outer fold). The reversal market runs with low costs (fee 0.0002, slippage 0), the others with
the defaults (fee 0.001 + slippage 0.0005 per side). One JSON line per run is appended to
``--out``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.backtest import BacktestSettings, run_backtest
from ai_engine.data import load_candles, make_candles
from ai_engine.synthetic import (
    candles_from_returns,
    one_bar_reversal,
    persistent_drift,
    random_walk,
    shuffled,
)
from ai_engine.training import make_plan

SHARED = Path(
    os.environ.get("AI_ENGINE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "crypto" / "ETH_BTC-5m.feather"
LOW_COSTS = {"fee": 0.0002, "slippage": 0.0}


def market_returns(name: str, bars: int, seed: int) -> np.ndarray:
    if name == "random_walk":
        return random_walk(bars, seed)
    if name == "shuffled":
        close = load_candles(REAL).frame["close"].to_numpy()
        real = np.diff(np.log(close))
        return shuffled(np.resize(real, bars), seed)
    if name == "drift":
        return persistent_drift(bars, seed)
    if name == "reversal":
        return one_bar_reversal(bars, seed)
    raise SystemExit(f"unknown market {name!r}")


def run(name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    frame = candles_from_returns(market_returns(name, args.bars, seed), seed)
    candles = make_candles(frame, f"SYN_{name}", "5m", source="synthetic")
    costs = LOW_COSTS if name == "reversal" else {}
    settings = BacktestSettings(folds=args.folds, **costs)
    started = time.perf_counter()
    report = run_backtest(candles, make_plan(args.preset), settings).report
    trading = report["trading"]["ensemble"]
    rows = report["test_period"]["rows"]
    ensemble = report["forecast"]["models"]["ensemble"]
    return {
        "market": name,
        "seed": seed,
        "bars": args.bars,
        "folds": args.folds,
        "preset": args.preset,
        "costs": settings.to_json() | {"round_trip": 2 * (settings.fee + settings.slippage)},
        "test_rows": rows,
        "hold_share": report["signals"]["hold_share"],
        "hold_reasons": report["signals"]["reasons"],
        "turnover": trading["turnover"],
        "turnover_per_10k_bars": trading["turnover"] / rows * 10_000,
        "net_return": trading["total_return"],
        "sharpe": trading["sharpe"],
        "trades": trading["trades"],
        "mae_vs_zero": ensemble["mae_vs_zero"],
        "fold_edges": [f["edge"] for f in report["folds"]],
        "coverage": report["edge"]["intervals"]["mean"],
        "seconds": time.perf_counter() - started,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--markets", nargs="+", default=["random_walk", "shuffled", "drift", "reversal"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--bars", type=int, default=6000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--out", default="benchmarks/results/synthetic_markets.jsonl")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(
        "| market | seed | HOLD % | turnover /10k bars | net % | Sharpe | MAE/zero | edge folds "
        "(h) | coverage |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.markets:
        for seed in args.seeds:
            row = run(name, seed, args)
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            edges = [f["horizon"] for f in row["fold_edges"] if f["enabled"]]
            sharpe = "-" if row["sharpe"] is None else f"{row['sharpe']:.2f}"
            print(
                f"| {name} | {seed} | {100 * row['hold_share']:.2f} | "
                f"{row['turnover_per_10k_bars']:.2f} | {100 * row['net_return']:+.2f} | {sharpe} "
                f"| {row['mae_vs_zero']:.4f} | {len(edges)}/{args.folds} {edges} | "
                f"{row['coverage']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

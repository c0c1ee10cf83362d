"""Calibration of the edge verdict (issue 24): false positives on no-edge series, detection of
edges of known size, the reported out-of-fold net against the net realised on fresh bars.

    .venv/bin/python benchmarks/edge_power.py [--null-reps 400] [--power-reps 150]
        [--only SCENARIO ...] [--cost all|low|default] [--strengths S ...] [--start K]
        [--out benchmarks/results/edge_power.jsonl]

Model-free (``ai_engine.evaluation.calibration``): four members forecast the true conditional
mean plus persistent noise; 3,000 out-of-fold rows in three inner segments; the served
weights and rule then trade 1,500 fresh bars. One JSON line per cell is appended to ``--out``
(rate, Wilson 95 % interval, nets per 1,000 bars, commit, load average); a markdown table is
printed. The SPA test runs only where the nets could pass (the verdict is no edge otherwise);
``--start`` continues the seeds of an earlier batch.
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

from ai_engine.evaluation.calibration import NULLS, replicate, wilson
from ai_engine.evaluation.decision import Costs

DEFAULT = Costs()  # 0.30 % round trip
LOW = Costs(fee=0.0002, slippage=0.0)  # 0.04 % round trip
POWER = [("drift", 0.005, DEFAULT), ("drift", 0.01, DEFAULT), ("drift", 0.02, DEFAULT)]
POWER += [("ar1", 0.1, LOW)]


def cells(null_reps: int, power_reps: int) -> list[tuple[str, float, Costs, int]]:
    """(scenario, strength, costs, replications): every null at both costs, then power."""
    out = [(name, 0.0, LOW, null_reps) for name in NULLS]
    out += [(name, 0.0, DEFAULT, null_reps) for name in NULLS]  # fast: SPA rarely needed
    return out + [(s, k, c, power_reps) for s, k, c in POWER]


def run_cell(
    scenario: str, strength: float, costs: Costs, reps: int, spa: int, start: int = 0
) -> dict[str, Any]:
    started = time.perf_counter()
    base = 1_000_003 * (1 + int(1000 * strength)) + sum(map(ord, scenario)) * 7919
    seeds = range(base + start, base + start + reps)
    runs = [replicate(scenario, strength, costs, seed, spa_reps=spa) for seed in seeds]
    found = [r for r in runs if r.found]
    low, high = wilson(len(found), reps)
    per_k = 1000.0

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 6) if values else None

    reported = mean([per_k * r.reported_net / r.reported_bars for r in found])
    realised = mean([per_k * r.realised_net / r.test_bars for r in found])
    oracle = float(np.sum([r.oracle_net for r in runs]))
    return {
        "scenario": scenario,
        "strength": strength,
        "round_trip": costs.round_trip,
        "replications": reps,
        "found": len(found),
        "rate": len(found) / reps,
        "wilson_95": [round(low, 4), round(high, 4)],
        "first_seed_index": start,
        "spa_tested": int(np.sum(np.isfinite([r.spa_p_value for r in runs]))),
        "reported_net_per_1000": reported,
        "realised_net_per_1000": realised,
        "realised_over_reported": (
            round(realised / reported, 3) if reported and realised is not None else None
        ),
        "oracle_net_per_1000": round(per_k * oracle / (reps * runs[0].test_bars), 6),
        "captured_share": round(sum(r.realised_net for r in runs) / oracle, 3) if oracle else None,
        "horizons": sorted({r.horizon for r in found if r.horizon is not None}),
        "seconds": round(time.perf_counter() - started, 1),
    }


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null-reps", type=int, default=400)
    parser.add_argument("--power-reps", type=int, default=150)
    parser.add_argument("--spa-reps", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None, help="scenarios to run")
    parser.add_argument("--start", type=int, default=0, help="first seed index (more batches)")
    parser.add_argument("--out", default="benchmarks/results/edge_power.jsonl")
    parser.add_argument(
        "--cost", choices=("all", "low", "default"), default="all", help="round trips to run"
    )
    parser.add_argument("--strengths", nargs="*", type=float, help="only these strengths")
    args = parser.parse_args()
    wanted_costs = {"all": (LOW, DEFAULT), "low": (LOW,), "default": (DEFAULT,)}[args.cost]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(
        "| scenario | strength | round trip | reps | found | Wilson 95 % | reported / realised "
        "per 1k bars | captured |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for scenario, strength, costs, reps in cells(args.null_reps, args.power_reps):
        if args.only and scenario not in args.only:
            continue
        if costs not in wanted_costs or (args.strengths and strength not in args.strengths):
            continue
        row = run_cell(scenario, strength, costs, reps, args.spa_reps, args.start)
        row.update(commit=commit(), load_average=[round(v, 2) for v in os.getloadavg()])
        with out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(
            f"| {scenario} | {strength} | {100 * costs.round_trip:.2f}% | {reps} | "
            f"{100 * row['rate']:.1f}% | {row['wilson_95']} | {row['reported_net_per_1000']} / "
            f"{row['realised_net_per_1000']} | {row['captured_share']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

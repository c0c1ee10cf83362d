"""Walk-forward backtest benchmark (issue 6): every crypto file with >= 1,900 bars and the demo.

    .venv/bin/python benchmarks/backtest_all.py [--preset quick] [--folds 5] [--weighting fixed]
                                                [--only NAME ...] [--out benchmarks/out/backtest]

Each dataset is the same as ``ai-engine backtest --data FILE --preset quick --folds 5 --out DIR``
(``--demo`` for the S&P 500). Reports go to ``<out>/<name>/``; a summary of every figure
recorded in benchmarks/RESULTS.md is printed as markdown and written to ``<out>/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ai_engine.backtest import BacktestSettings, run_backtest
from ai_engine.backtest.report import write_report
from ai_engine.data import Candles, demo_candles, load_candles
from ai_engine.training import TrainingPlan, make_plan

CRYPTO = (
    Path(
        os.environ.get(
            "AI_ENGINE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "crypto"
)
MIN_BARS = 1900


def datasets() -> list[tuple[str, str, Any]]:
    """(name, CLI data option, loader) for every crypto file with enough bars, then the demo."""
    out: list[tuple[str, str, Any]] = []
    for path in sorted(CRYPTO.glob("*.feather")):
        candles = load_candles(path)
        if len(candles.frame) >= MIN_BARS:
            out.append((path.stem, f"--data {path}", lambda p=path: load_candles(p)))
    out.append(("SP500-1d-demo", "--demo", demo_candles))
    return out


def figures(report: dict[str, Any]) -> dict[str, Any]:
    models = report["forecast"]["models"]
    trading = report["trading"]
    return {
        "bars": report["data"]["bars"],
        "test_rows": report["forecast"]["rows_scored"],
        "test_bars_per_fold": report["settings"]["layout"]["test_bars"],
        "mae_vs_zero": {k: v["mae_vs_zero"] for k, v in models.items()},
        "mae_vs_zero_h1": {k: v["mae_vs_zero_by_horizon"][0] for k, v in models.items()},
        "hit_rate": {k: v["hit_rate"] for k, v in models.items()},
        "hit_rate_non_overlapping": {k: v["hit_rate_non_overlapping"] for k, v in models.items()},
        "ic": {k: v["ic"]["rho"] for k, v in models.items()},
        "signals": report["signals"]["counts"],
        "consensus_reached_rate": report["signals"]["consensus_reached_rate"],
        "trading": {
            k: {
                m: v[m]
                for m in (
                    "total_return",
                    "sharpe",
                    "max_drawdown",
                    "trades",
                    "exposure",
                    "win_rate",
                )
            }
            for k, v in trading.items()
        },
        "fold_edges": [f["edge"] for f in report["folds"]],
        "hold_share": report["signals"]["hold_share"],
        "hold_reasons": report["signals"]["reasons"],
        "coverage": report["edge"]["intervals"]["mean"],
        "dm_vs_zero": report["edge"]["ensemble_vs_zero"],
        "turnover": trading["ensemble"]["turnover"],
        "wall_seconds": report["wall_seconds"],
    }


def ci(hit: dict[str, Any]) -> str:
    if hit["rate"] is None:
        return "-"
    return f"{hit['rate']:.3f} [{hit['ci_low']:.3f}, {hit['ci_high']:.3f}]"


def markdown(name: str, command: str, fig: dict[str, Any]) -> str:
    def num(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        f"**{name}**: {fig['bars']} bars, {fig['test_rows']} test bars "
        f"({fig['test_bars_per_fold']} per fold), wall {fig['wall_seconds']:.0f} s; "
        f"`{command}`",
        "",
        "| model | MAE / zero | hit rate h12 [95% CI] | non-overlapping | IC h12 | "
        "Sharpe after fees | total return | trades |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, rel in fig["mae_vs_zero"].items():
        trade = fig["trading"].get(model, {})
        lines.append(
            f"| {model} | {rel:.4f} | {ci(fig['hit_rate'][model])} | "
            f"{ci(fig['hit_rate_non_overlapping'][model])} | {num(fig['ic'][model], '+.3f')} | "
            f"{num(trade.get('sharpe'), '+.2f')} | {num(trade.get('total_return'), '+.1%')} | "
            f"{trade.get('trades', '-')} |"
        )
    edges = [f"h={e['horizon']}" if e["enabled"] else "none" for e in fig["fold_edges"]]
    lines.insert(
        1,
        f"\nedge per fold: {', '.join(edges)}; HOLD {fig['hold_share']:.1%} "
        f"({fig['hold_reasons']}); interval coverage {num(fig['coverage'], '.3f')} (nominal 0.80); "
        f"ensemble turnover {fig['turnover']:.0f}",
    )
    bh = fig["trading"]["buy_and_hold"]
    lines.append(
        f"| buy and hold | | | | | {num(bh['sharpe'], '+.2f')} | "
        f"{num(bh['total_return'], '+.1%')} | 1 |"
    )
    return "\n".join(lines)


class Ticker:
    """Prints every finished stage with the seconds since the dataset started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, fold: int, stage: str, event: str) -> None:
        if event == "done":
            print(f"   fold {fold} {stage} {time.perf_counter() - self.started:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--weighting", choices=("fixed", "validation"), default=None)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/backtest"))
    args = parser.parse_args()
    plan: TrainingPlan = make_plan(args.preset)
    extra = ""
    if args.weighting:
        plan = TrainingPlan(
            preset=plan.preset,
            families=plan.families,
            ensemble=plan.ensemble,
            weighting=args.weighting,
            val_fraction=plan.val_fraction,
            seed=plan.seed,
        )
        extra = f" --weighting {args.weighting}"
    settings = BacktestSettings(folds=args.folds)
    summary = {}
    blocks = []
    for name, option, loader in datasets():
        if args.only and name not in args.only:
            continue
        candles: Candles = loader()
        out_dir = args.out / name
        command = (
            f"ai-engine backtest {option} --preset {args.preset} --folds {args.folds}"
            f"{extra} --out {out_dir}"
        )
        print(f"== {name}: {len(candles.frame)} bars ({command})", flush=True)
        result = run_backtest(candles, plan, settings, progress=Ticker())
        write_report(result, out_dir)
        summary[name] = {"command": command, **figures(result.report)}
        blocks.append(markdown(name, command, summary[name]))
        print(blocks[-1], flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        results = Path("benchmarks/results/backtest_all.json")
        results.write_text(json.dumps(summary, indent=1))
    print("\n\n".join(blocks))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

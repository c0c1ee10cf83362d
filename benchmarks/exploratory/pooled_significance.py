"""Issue 13: is the pooled sequence model worse than per-symbol ones, beyond noise?

Fits, as ``multi_symbol.py``'s releases do (``fit_split``, quick preset, one torch thread), one
pooled model over the 8-symbol mix and one per symbol, for N-HiTS and PatchTST, then scores
both on the same validation rows (the last 20 % of every symbol). Per row the loss is the mean
absolute error over the 12 steps. Diebold-Mariano (the engine's own ``diebold_mariano``: HAC
t-test, 11 lags for the overlapping 12-step targets), one-sided both ways:

- ``p_per_symbol_better``: small when the per-symbol model's loss is below the pooled one's,
  i.e. evidence that pooling is worse;
- ``p_pooled_better``: small when pooling is better.

Per symbol, and over all symbols (the differential averaged across symbols per date: the
symbols share their dates, so this keeps their cross-correlation in the HAC variance).

Usage: ``python benchmarks/exploratory/pooled_significance.py SEED [SEED ...] [--drop SYMBOL
...]`` (``--drop``: leave those symbols out of the pool and the comparison); appends one JSON
line per seed to benchmarks/results/pooled_significance.jsonl.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from ai_engine.evaluation.edge import diebold_mariano  # noqa: E402
from ai_engine.evaluation.oof import take  # noqa: E402
from ai_engine.features import CURRENT_SPEC  # noqa: E402
from ai_engine.multi.pooling import Split, SymbolRows, final_split, symbol_rows  # noqa: E402
from ai_engine.multi.sources import load_sources  # noqa: E402
from ai_engine.multi.tasks import plan_of  # noqa: E402
from ai_engine.multi.training import _named, fit_split  # noqa: E402
from ai_engine.training import TrainingPlan  # noqa: E402
from multi_symbol import write_symbols  # noqa: E402

DATA = Path("/tmp/pooled_significance_data")
FAMILIES = ("nhits", "patchtst")


def row_losses(model: Any, part: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per validation row: the model's MAE over the 12 steps ``(n,)``, the zero forecast's."""
    inputs = take(part.inputs, rows).of_kind("sequence")
    actual = part.targets[rows]
    return np.abs(model.predict(inputs) - actual).mean(axis=1), np.abs(actual).mean(axis=1)


def compare(pooled: np.ndarray, own: np.ndarray, zero: np.ndarray) -> dict[str, float]:
    """MAE/zero of both and the two one-sided DM p-values for losses ``(n,)``."""
    horizon = CURRENT_SPEC.horizon
    return {
        "pooled": round(float(pooled.mean() / zero.mean()), 4),
        "per_symbol": round(float(own.mean() / zero.mean()), 4),
        "p_per_symbol_better": round(diebold_mariano(pooled, own, horizon).p_value, 4),
        "p_pooled_better": round(diebold_mariano(own, pooled, horizon).p_value, 4),
        "n": len(pooled),
    }


def mix(seed: int, drop: Sequence[str] = ()) -> tuple[list[SymbolRows], TrainingPlan, Split]:
    """The 8-symbol mix (less ``drop``) as training rows, the quick plan, the final split."""
    if not DATA.exists():
        write_symbols(DATA, 1999)
    sources, _ = load_sources([DATA])
    parts = [
        symbol_rows(s.candles.frame, s.candles.symbol, s.path, timeframe=s.candles.timeframe)
        for s in sources
        if s.candles.symbol not in drop
    ]
    parts, _ = _named(parts, None)
    plan = plan_of({"preset": "quick", "seed": seed})
    return parts, plan, final_split(parts, plan.val_fraction, CURRENT_SPEC.horizon)


def run(seed: int, drop: Sequence[str] = ()) -> dict[str, Any]:
    """One seed: every family, pooled and per symbol, compared per symbol and over all."""
    parts, plan, split = mix(seed, drop)
    out: dict[str, Any] = {"seed": seed, **({"dropped": sorted(drop)} if drop else {})}
    for family in FAMILIES:
        start = time.perf_counter()
        pooled = fit_split(family, parts, split, plan, CURRENT_SPEC)
        result: dict[str, Any] = {}
        differentials, zeros = [], []
        for part, rows in zip(parts, split.test, strict=True):
            own = fit_split(
                family,
                [part],
                final_split([part], plan.val_fraction, CURRENT_SPEC.horizon),
                plan,
                CURRENT_SPEC,
            )
            loss_pooled, zero = row_losses(pooled, part, rows)
            loss_own, _ = row_losses(own, part, rows)
            result[part.symbol] = compare(loss_pooled, loss_own, zero)
            differentials.append(loss_pooled / zero.mean() - loss_own / zero.mean())
            zeros.append(zero)
        shortest = min(len(d) for d in differentials)
        mean_diff = np.mean([d[-shortest:] for d in differentials], axis=0)
        overall = {  # differential of MAE/zero, averaged across symbols per date
            "pooled_minus_per_symbol": round(float(mean_diff.mean()), 4),
            "p_per_symbol_better": round(
                diebold_mariano(mean_diff, np.zeros_like(mean_diff), CURRENT_SPEC.horizon).p_value,
                4,
            ),
            "p_pooled_better": round(
                diebold_mariano(np.zeros_like(mean_diff), mean_diff, CURRENT_SPEC.horizon).p_value,
                4,
            ),
            "n": shortest,
        }
        result["all"] = overall
        out[family] = result
        print(family, f"{time.perf_counter() - start:.0f}s", json.dumps(result), flush=True)
    return out


def main() -> None:
    torch.set_num_threads(1)
    args = sys.argv[1:]
    cut = args.index("--drop") if "--drop" in args else len(args)
    for seed in map(int, args[:cut] or ["0"]):
        line = run(seed, args[cut + 1 :])
        with open(HERE / "results" / "pooled_significance.jsonl", "a") as handle:
            handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()

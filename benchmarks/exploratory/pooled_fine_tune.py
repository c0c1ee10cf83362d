"""Issue 13, exploratory (not a product feature): the pooled model fine-tuned per symbol.

For each symbol of the 8-symbol mix: the pooled network (``fit_split`` over all symbols, as
pooled_significance.py) trained further on that symbol's own rows only, starting from the pooled
weights and scaler, at ``LR_MULT`` times the family's learning rate, early-stopping on the
symbol's own validation rows as the per-symbol model does. Scored against the per-symbol model
on the same rows (MAE / zero; Diebold-Mariano one-sided ``p_per_symbol_better``).

Usage: ``python benchmarks/exploratory/pooled_fine_tune.py SEED LR_MULT``; appends one JSON
line to benchmarks/results/pooled_fine_tune.jsonl.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pooled_significance import FAMILIES, compare, mix, row_losses  # noqa: E402

from ai_engine.features import CURRENT_SPEC  # noqa: E402
from ai_engine.models.base import build  # noqa: E402
from ai_engine.multi.pooling import SymbolRows, final_split, gather  # noqa: E402
from ai_engine.multi.training import fit_split  # noqa: E402
from ai_engine.training import TrainingPlan  # noqa: E402


def fine_tuned(family: str, pooled: Any, part: SymbolRows, plan: TrainingPlan, lr: float) -> Any:
    """A copy of ``pooled`` trained on ``part``'s own train rows, early-stopped on its own."""
    split = final_split([part], plan.val_fraction, CURRENT_SPEC.horizon)
    config = plan.config_for(family, CURRENT_SPEC)
    model = build(family, {**config, "learning_rate": config["learning_rate"] * lr})
    model.build_network = lambda: copy.deepcopy(pooled.network_)
    model.scaler_ = scaler = pooled.scaler_
    (x, y), (x_val, y_val) = gather([part], split.train), gather([part], split.test)
    kind = model.input_kind
    model._fit(
        scaler.transform(x.of_kind(kind)),
        (y / scaler.target_scale).astype(np.float32),
        scaler.transform(x_val.of_kind(kind)),
        (y_val / scaler.target_scale).astype(np.float32),
    )
    return model


def run(seed: int, lr: float) -> dict[str, Any]:
    parts, plan, split = mix(seed)
    out: dict[str, Any] = {"seed": seed, "lr_mult": lr}
    for family in FAMILIES:
        pooled = fit_split(family, parts, split, plan, CURRENT_SPEC)
        result: dict[str, Any] = {}
        for part, rows in zip(parts, split.test, strict=True):
            own_split = final_split([part], plan.val_fraction, CURRENT_SPEC.horizon)
            own = fit_split(family, [part], own_split, plan, CURRENT_SPEC)
            tuned = fine_tuned(family, pooled, part, plan, lr)
            loss_pooled, zero = row_losses(pooled, part, rows)
            loss_tuned, _ = row_losses(tuned, part, rows)
            loss_own, _ = row_losses(own, part, rows)
            versus = compare(loss_tuned, loss_own, zero)
            result[part.symbol] = {
                "pooled": round(float(loss_pooled.mean() / zero.mean()), 4),
                "fine_tuned": versus["pooled"],
                "per_symbol": versus["per_symbol"],
                "p_per_symbol_better": versus["p_per_symbol_better"],
            }
        out[family] = result
        print(family, seed, lr, json.dumps(result), flush=True)
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    line = run(int(sys.argv[1]), float(sys.argv[2]))
    with open(HERE.parent / "results" / "pooled_fine_tune.jsonl", "a") as handle:
        handle.write(json.dumps(line) + "\n")

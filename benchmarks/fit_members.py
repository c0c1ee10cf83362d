"""Fit members on the demo data (S&P 500 daily) one by one: wall and CPU time, epochs, MAE/zero.

Usage: python benchmarks/fit_members.py [--threads 1] [--preset default]
       [--families nhits patchtst] [--override '{"patchtst": {"revin": false}}']

Uses the training pipeline's own split (last 20% for validation after a 12-bar purge), so the
MAE / zero-forecast ratio is the one `ai-engine demo` prints.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ai_engine.data import demo_candles
from ai_engine.features import CURRENT_SPEC, training_data
from ai_engine.models.base import ENSEMBLE_FAMILIES, build
from ai_engine.training import forecast_metrics, make_plan, time_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--families", nargs="+", default=list(ENSEMBLE_FAMILIES))
    parser.add_argument("--override", default="{}", help="JSON {family: {key: value}}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = json.loads(args.override)

    inputs, targets = training_data(demo_candles().frame, CURRENT_SPEC)
    plan = make_plan(args.preset)
    train, val = time_split(len(inputs), plan.val_fraction, gap=CURRENT_SPEC.horizon)
    zero_mae = float(np.mean(np.abs(targets[val])))
    for family in args.families:
        config = {**plan.config_for(family, CURRENT_SPEC), **overrides.get(family, {})}
        model = build(family, config)
        x = inputs.of_kind(model.input_kind)
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(x[train], targets[train], x[val], targets[val])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        metrics = forecast_metrics(model.predict(x[val]), targets[val], 12)
        print(
            f"{family:9s} threads {args.threads}  wall {wall:6.1f} s  cpu {cpu:6.1f} s  "
            f"epochs {model.fit_info_.get('epochs_run', '-')}  "
            f"MAE/zero {metrics['mae'] / zero_mae:.4f}  hit h12 {metrics['hit_rate']:.3f}  "
            f"overrides {overrides.get(family, {})}"
        )


if __name__ == "__main__":
    main()

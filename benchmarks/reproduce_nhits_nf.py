"""neuralforecast's NHITS on the windows of ``reproduce_nhits.py`` (run in ``benchmarks/.nf-venv``).

The same scaled series, the same train / validation / test borders and the same rolling test
windows as our N-HiTS (``reproduce_common``), trained and scored the way neuralforecast users do
it: ``NeuralForecast.cross_validation(val_size=..., test_size=..., step_size=1)``, which fits once
on the training rows (early stopping on the validation rows) and forecasts every test window.
The forecasts are put back in our window order and scored with the same function; the script
checks that neuralforecast's targets are exactly our windows' targets.

Configuration as our run: 3 identity stacks of 1 block, ``mlp_units=[[512, 512]]`` (the same
weights as our 2 × 512; neuralforecast puts no activation between its first two linear layers),
the given pooling kernels and downsampling, MaxPool1d, linear interpolation, no dropout, MAE
loss, Adam 1e-3 halved 3 times, ``windows_batch_size`` 256, validation every 50 steps, early
stop after 10 checks, identity scaler (the data are already scaled). Differences kept from
neuralforecast: no "naive level" under the forecast, and early stopping keeps the last weights
(Lightning's callback), not the best-validation ones.

    .venv/bin/python benchmarks/vs_neuralforecast.py --setup    # once: benchmarks/.nf-venv
    benchmarks/.nf-venv/bin/python benchmarks/reproduce_nhits_nf.py --dataset ETTh1 ETTh2 \\
        --kernels 2,2,2 --downsample 24,12,1 --max-minutes 4 --json benchmarks/results/nhits.jsonl
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from reproduce_common import (
    DEFAULT_DATA,
    append_jsonl,
    errors,
    load_dataset,
    naive_metrics,
    provenance,
    rounded,
    segments,
    univariate_windows,
)


def run(dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    import neuralforecast
    import pandas as pd
    import pytorch_lightning as pl
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MAE
    from neuralforecast.models import NHITS

    horizon = args.horizon
    lookback = args.lookback or 5 * horizon
    parts = segments(dataset, load_dataset(dataset, args.data_dir), lookback)
    xs, ys = univariate_windows(parts["test"], lookback, horizon)
    full = np.concatenate([parts["train"], parts["val"][lookback:], parts["test"][lookback:]])
    rows, channels = full.shape
    val_size, test_size = len(parts["val"]) - lookback, len(parts["test"]) - lookback
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(channels), rows),
            "ds": np.tile(np.arange(rows), channels),
            "y": full.T.reshape(-1).astype(np.float32),
        }
    )
    steps: list[int] = [0]
    val_history: list[float] = []

    class Recorder(pl.Callback):  # closure lists: neuralforecast may copy the callback
        def on_train_batch_end(self, trainer: Any, *_: Any, **__: Any) -> None:
            steps[0] = int(trainer.global_step)

        def on_validation_end(self, trainer: Any, *_: Any) -> None:
            value = trainer.callback_metrics.get("ptl/val_loss")
            if value is not None and trainer.global_step > 0:
                val_history.append(round(float(value), 5))

    kernels = [int(k) for k in args.kernels.split(",")]
    downsample = [int(d) for d in args.downsample.split(",")]
    model = NHITS(
        h=horizon,
        input_size=lookback,
        stack_types=["identity"] * 3,
        n_blocks=[1, 1, 1],
        mlp_units=[[512, 512]],
        n_pool_kernel_size=kernels,
        n_freq_downsample=downsample,
        pooling_mode="MaxPool1d",
        interpolation_mode="linear",
        dropout_prob_theta=0.0,
        activation="ReLU",
        loss=MAE(),
        valid_loss=MAE(),
        max_steps=args.steps,
        learning_rate=args.lr,
        num_lr_decays=3,
        early_stop_patience_steps=args.patience,
        val_check_steps=args.val_every,
        batch_size=channels,
        windows_batch_size=args.batch_size,
        scaler_type="identity",
        random_seed=args.seed,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        callbacks=[Recorder()],
        max_time={"minutes": args.max_minutes} if args.max_minutes else None,
    )
    before = provenance()
    started, cpu_started = time.perf_counter(), time.process_time()
    nf = NeuralForecast(models=[model], freq=1)
    out = nf.cross_validation(
        df=frame, n_windows=None, val_size=val_size, test_size=test_size, step_size=1
    )
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    out = out.sort_values(["unique_id", "cutoff", "ds"])
    n_windows = len(xs) // channels
    shape = (channels, n_windows, horizon)
    pred = out["NHITS"].to_numpy(np.float64).reshape(shape).transpose(1, 0, 2)
    target = out["y"].to_numpy(np.float64).reshape(shape).transpose(1, 0, 2)
    pred, target = pred.reshape(-1, horizon, 1), target.reshape(-1, horizon, 1)
    mismatch = float(np.max(np.abs(target - ys)))
    if mismatch > 1e-5:
        raise SystemExit(f"neuralforecast's test targets are not our windows (max diff {mismatch})")
    test, naive = errors(pred, ys), naive_metrics(xs, ys)
    beats = test["mse"] < naive["repeat_last"]["mse"]
    print(
        f"{dataset} h={horizon} L={lookback} neuralforecast {neuralforecast.__version__} NHITS: "
        f"test MSE {test['mse']:.4f} MAE {test['mae']:.4f} on {len(xs)} windows (targets match "
        f"ours, max diff {mismatch:.1e}) | repeat-last {naive['repeat_last']['mse']:.4f} "
        f"({'beaten' if beats else 'NOT beaten'}), window mean {naive['window_mean']['mse']:.4f}"
        f" | {steps[0]} steps | wall {wall:.0f}s, CPU {cpu:.0f}s, "
        f"{torch.get_num_threads()} thread(s)",
        flush=True,
    )
    return {
        "script": "reproduce_nhits_nf.py",
        "model": f"NHITS (neuralforecast {neuralforecast.__version__})",
        "dataset": dataset,
        "seed": args.seed,
        "horizon": horizon,
        "lookback": lookback,
        "config": {
            "n_stacks": 3,
            "n_blocks": 1,
            "mlp_units": [[512, 512]],
            "kernels": kernels,
            "downsample": downsample,
            "interpolation": "linear",
            "naive_level": False,
            "lr": args.lr,
            "windows_batch_size": args.batch_size,
            "max_steps": args.steps,
            "val_every_steps": args.val_every,
            "patience": args.patience,
            "max_minutes": args.max_minutes,
            "loss": "mae",
            "val_size": val_size,
            "test_size": test_size,
        },
        "steps": steps[0],
        "val_mae_history": val_history,
        "best_val_mae": min(val_history) if val_history else None,
        "test": rounded({**test, "samples": len(xs)}),
        "naive_test": rounded(naive),
        "beats_repeat_last": beats,
        "target_max_abs_diff_vs_ours": mismatch,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "provenance": before,
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        nargs="+",
        default=["ETTh1", "ETTh2"],
        choices=["exchange_rate", "ETTh1", "ETTh2"],
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--lookback", type=int, default=None, help="default: 5 x horizon")
    parser.add_argument("--steps", type=int, default=1000, help="max optimisation steps")
    parser.add_argument("--val-every", type=int, default=50, help="steps between val checks")
    parser.add_argument("--patience", type=int, default=10, help="val checks without gain")
    parser.add_argument("--batch-size", type=int, default=256, help="windows per step")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kernels", default="2,2,2")
    parser.add_argument("--downsample", default="24,12,1")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="Lightning max_time for the training"
    )
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per dataset")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import torch

    torch.set_num_threads(args.threads)
    for dataset in args.dataset:
        record = run(dataset, args)
        if args.json:
            append_jsonl(args.json, {**record, "args": vars(args)})


if __name__ == "__main__":
    main()

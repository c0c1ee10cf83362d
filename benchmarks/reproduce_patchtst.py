"""Reproduce PatchTST/42 (Nie et al., ICLR 2023) on ETTh1 / ETTh2, horizon 96, with our network.

Protocol of the paper and its official code (``PatchTST_supervised``, script ``etth1.sh``):

- data: rows [0, 8640) train, [8640 - L, 11520) validation, [11520 - L, 14400) test, L = 336;
  a StandardScaler fitted on the training rows; all 7 channels ("M" setting), every rolling
  window of every split (the last partial test batch is kept, unlike the official loader);
- model: lookback 336, patch 16, stride 8, end padding (42 patches), d_model 16, 4 heads,
  3 encoder layers, d_ff 128, dropout 0.3, head dropout 0, RevIN without affine, BatchNorm,
  residual attention, channel independence;
- training: Adam lr 1e-4, batch 128, MSE, lr ×0.9 per epoch after epoch 3 (the official
  ``type3`` schedule), 100 epochs, patience 100, seed 2021; the best-validation weights are
  restored before testing.

Printed: test MSE / MAE on the scaled data beside the published numbers, epochs run, wall time.

    .venv/bin/python benchmarks/reproduce_patchtst.py --dataset ETTh1 --threads 1 --epochs 100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ai_engine.models.patchtst import PatchTSTConfig, PatchTSTNetwork
from ai_engine.models.training_loop import (
    EvalReport,
    TrainSettings,
    predict_batched,
    train_network,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "benchmarks"
PAPER = {  # (MSE, MAE): paper Table 3 (last test batch dropped), full-test-set re-run
    "ETTh1": ((0.375, 0.399), (0.385, 0.406)),
    "ETTh2": ((0.274, 0.336), (0.275, 0.337)),
}
TARGET_MSE = {"ETTh1": 0.385, "ETTh2": 0.276}


def load_ett(path: Path) -> np.ndarray:
    """The 7 value columns of an ETT csv as float64 ``(rows, 7)`` (the date column dropped)."""
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 8), dtype=np.float64)


def windows(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every rolling window: ``(rows, c) -> x (n, lookback, c), y (n, horizon, c)`` float32."""
    n = series.shape[0] - lookback - horizon + 1
    view = np.lib.stride_tricks.sliding_window_view(series, lookback + horizon, axis=0)
    view = view[:n].transpose(0, 2, 1)  # (n, lookback + horizon, c)
    x = np.ascontiguousarray(view[:, :lookback], dtype=np.float32)
    y = np.ascontiguousarray(view[:, lookback:], dtype=np.float32)
    return x, y


def ett_splits(
    data: np.ndarray, lookback: int, horizon: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The ETT-hour borders of the papers, scaled with the training rows' mean and std."""
    month = 30 * 24
    starts = [0, 12 * month - lookback, 16 * month - lookback]
    ends = [12 * month, 16 * month, 20 * month]
    train = data[: ends[0]]
    scaled = (data - train.mean(axis=0)) / train.std(axis=0)
    return {
        name: windows(scaled[a:b], lookback, horizon)
        for name, a, b in zip(("train", "val", "test"), starts, ends, strict=True)
    }


def run(dataset: str, args: argparse.Namespace) -> dict[str, object]:
    device = torch.device(args.device)
    splits = ett_splits(load_ett(args.data_dir / f"{dataset}.csv"), args.lookback, args.horizon)
    (xt, yt), (xv, yv), (xs, ys) = splits["train"], splits["val"], splits["test"]
    config = PatchTSTConfig(
        lookback=args.lookback,
        horizon=args.horizon,
        channels=7,
        d_model=16,
        n_heads=4,
        n_layers=3,
        d_ff=128,
        dropout=0.3,
        head_dropout=0.0,
        patch_len=16,
        stride=8,
        revin=True,
        affine=False,
        seed=args.seed,
    )
    torch.manual_seed(args.seed)
    network = PatchTSTNetwork(config)
    settings = TrainSettings(
        learning_rate=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        patience=args.patience,
        loss="mse",
        lr_schedule="patchtst",
        time_limit_s=args.time_limit_min * 60 if args.time_limit_min else None,
        eval_batch_size=512,
        seed=args.seed,
    )
    print(
        f"{dataset}: train {len(xt)} / val {len(xv)} / test {len(xs)} windows, "
        f"{sum(p.numel() for p in network.parameters())} parameters, {config.n_patches} patches",
        flush=True,
    )

    def progress(report: EvalReport) -> None:
        mark = "*" if report.improved else " "
        print(
            f"  epoch {report.epoch + 1:3d}  train {report.train_loss:.4f}  "
            f"val {report.val_loss:.4f}{mark} lr {report.learning_rate:.2e}  "
            f"{report.seconds:7.0f}s",
            flush=True,
        )

    started = time.perf_counter()
    result = train_network(network, xt, yt, xv, yv, settings, device=device, on_eval=progress)
    pred = predict_batched(network, torch.from_numpy(xs), 512, device).numpy()
    wall = time.perf_counter() - started
    mse = float(np.mean((pred - ys) ** 2))
    mae = float(np.mean(np.abs(pred - ys)))
    (p_mse, p_mae), (f_mse, f_mae) = PAPER[dataset]
    verdict = "meets" if mse <= TARGET_MSE[dataset] else "MISSES"
    print(
        f"{dataset} h={args.horizon} L={args.lookback}: test MSE {mse:.4f} MAE {mae:.4f} | "
        f"paper {p_mse:.3f} / {p_mae:.3f}, full-test re-run {f_mse:.3f} / {f_mae:.3f} | "
        f"{verdict} target MSE <= {TARGET_MSE[dataset]} | epochs run {result.epochs_run} "
        f"(best {result.best_epoch + 1}, stopped: {result.stopped}) | wall {wall:.0f}s "
        f"on {device}, {torch.get_num_threads()} thread(s)",
        flush=True,
    )
    return {
        "dataset": dataset,
        "horizon": args.horizon,
        "lookback": args.lookback,
        "test_mse": mse,
        "test_mae": mae,
        "test_windows": len(xs),
        "paper": PAPER[dataset],
        "target_mse": TARGET_MSE[dataset],
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch + 1,
        "best_val_loss": result.best_val_loss,
        "stopped": result.stopped,
        "val_history": [round(r.val_loss, 5) for r in result.history],
        "wall_s": round(wall, 1),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", nargs="+", default=["ETTh1", "ETTh2"], choices=list(PAPER))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=100, help="official: 100 (no early stop)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--time-limit-min", type=float, default=None)
    parser.add_argument("--lookback", type=int, default=336)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per dataset")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for dataset in args.dataset:
        summary = run(dataset, args)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            with args.json.open("a") as fh:
                fh.write(json.dumps({**summary, "args": vars(args)}, default=str))
                fh.write("\n")


if __name__ == "__main__":
    main()

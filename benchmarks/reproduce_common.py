"""Data splits, naive baselines and run provenance shared by the paper reproductions.

numpy only (no torch, no project import), so that the neuralforecast side
(``reproduce_nhits_nf.py``, run in ``benchmarks/.nf-venv``) builds exactly the same windows.

- ``ett_segments`` / ``exchange_segments``: the papers' train / validation / test rows, scaled
  with the training rows' mean and std; validation and test start ``lookback`` rows early so
  that their first forecast is the split's first row.
- ``windows`` (all channels per sample) and ``univariate_windows`` (each channel its own sample).
- ``naive_metrics``: MSE / MAE of repeating the last input value and of the input window's
  mean, on the windows given: the floor a model has to clear to show it learned anything.
- ``provenance``: git commit, whether the model sources differ from it, load average, times.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "benchmarks"
RESULTS = REPO / "benchmarks" / "results"
DROP_LAST_BATCH = 128  # the official PatchTST test loader: batch 128, last partial batch dropped
SPLITS = ("train", "val", "test")


def load_ett(path: Path) -> np.ndarray:
    """The 7 value columns of an ETT csv as float64 ``(rows, 7)`` (the date column dropped)."""
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 8), dtype=np.float64)


def load_exchange(path: Path) -> np.ndarray:
    """``exchange_rate.txt(.gz)``: ``(7588, 8)`` float64, no header."""
    return np.loadtxt(path, delimiter=",", dtype=np.float64)


def load_dataset(name: str, data_dir: Path = DEFAULT_DATA) -> np.ndarray:
    if name.startswith("ETT"):
        return load_ett(data_dir / f"{name}.csv")
    return load_exchange(data_dir / f"{name}.txt.gz")


def _scaled_segments(
    data: np.ndarray, train_rows: int, starts: list[int], ends: list[int]
) -> dict[str, np.ndarray]:
    train = data[:train_rows]
    scaled = (data - train.mean(axis=0)) / train.std(axis=0)
    return {name: scaled[a:b] for name, a, b in zip(SPLITS, starts, ends, strict=True)}


def ett_segments(data: np.ndarray, lookback: int) -> dict[str, np.ndarray]:
    """ETT-hour borders of the papers: rows [0, 8640) / [8640, 11520) / [11520, 14400)."""
    month = 30 * 24
    starts = [0, 12 * month - lookback, 16 * month - lookback]
    ends = [12 * month, 16 * month, 20 * month]
    return _scaled_segments(data, ends[0], starts, ends)


def exchange_segments(data: np.ndarray, lookback: int) -> dict[str, np.ndarray]:
    """70% / 10% / 20% in time order (Exchange: 5311 / 760 / 1517 rows)."""
    rows = data.shape[0]
    n_train, n_test = int(rows * 0.7), int(rows * 0.2)
    n_val = rows - n_train - n_test
    starts = [0, n_train - lookback, rows - n_test - lookback]
    ends = [n_train, n_train + n_val, rows]
    return _scaled_segments(data, n_train, starts, ends)


def segments(name: str, data: np.ndarray, lookback: int) -> dict[str, np.ndarray]:
    return (
        ett_segments(data, lookback)
        if name.startswith("ETT")
        else exchange_segments(data, lookback)
    )


def windows(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every rolling window: ``(rows, c) -> x (n, lookback, c), y (n, horizon, c)`` float32."""
    n = series.shape[0] - lookback - horizon + 1
    view = np.lib.stride_tricks.sliding_window_view(series, lookback + horizon, axis=0)
    view = view[:n].transpose(0, 2, 1)  # (n, lookback + horizon, c)
    x = np.ascontiguousarray(view[:, :lookback], dtype=np.float32)
    y = np.ascontiguousarray(view[:, lookback:], dtype=np.float32)
    return x, y


def univariate_windows(
    series: np.ndarray, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every rolling window of every column as its own sample: ``x (n*c, L, 1), y (n*c, H, 1)``.

    Window-major: sample ``i * c + j`` is window ``i`` of column ``j``.
    """
    n = series.shape[0] - lookback - horizon + 1
    view = np.lib.stride_tricks.sliding_window_view(series, lookback + horizon, axis=0)[:n]
    flat = view.reshape(-1, lookback + horizon)  # (n * c, L + H), window-major
    x = np.ascontiguousarray(flat[:, :lookback, None], dtype=np.float32)
    y = np.ascontiguousarray(flat[:, lookback:, None], dtype=np.float32)
    return x, y


def errors(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MSE and MAE over every element (float64 accumulation)."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return {"mse": float(np.mean(diff * diff)), "mae": float(np.mean(np.abs(diff)))}


def naive_metrics(x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, float]]:
    """Naive forecasts of ``y (n, H, c)`` from ``x (n, L, c)``, scored like the models.

    ``repeat_last``: the last input value of each channel for every horizon step;
    ``window_mean``: the mean of each channel's input window for every horizon step.
    """
    if x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
        raise ValueError(f"x {x.shape} and y {y.shape} are not windows of the same series")
    last = x[:, -1:].astype(np.float64)
    mean = x.astype(np.float64).mean(axis=1, keepdims=True)
    return {
        "repeat_last": errors(np.broadcast_to(last, y.shape), y),
        "window_mean": errors(np.broadcast_to(mean, y.shape), y),
    }


def drop_last_count(n: int, batch: int = DROP_LAST_BATCH) -> int:
    """Windows a loader with ``drop_last`` keeps: ETT test, 2785 windows -> 2688."""
    return n // batch * batch


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.rstrip() if done.returncode == 0 else ""  # keep porcelain's leading space


def provenance() -> dict[str, Any]:
    """Commit, whether the model sources differ from it, load average, UTC time, CPU count."""
    changed = _git("status", "--porcelain", "--", "src/ai_engine/models")
    return {
        "commit": _git("rev-parse", "HEAD") or None,
        "models_modified": [line[3:] for line in changed.splitlines()],
        "utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "nice": os.nice(0),
    }


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(record, default=str, sort_keys=False) + "\n")


def rounded(metrics: dict[str, Any], digits: int = 6) -> dict[str, Any]:
    """Floats of a (nested) metrics dict rounded for the result files."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out[key] = rounded(value, digits)
        elif isinstance(value, float):
            out[key] = round(value, digits)
        else:
            out[key] = value
    return out

"""Features of one distinct window's last bar: the reference path against the last-row kernel.

Usage: python benchmarks/features_last_row.py [--windows 400] [--candles 256] [--rounds 5]
       [--out FILE]

Windows are ``--windows`` distinct slices of ``--candles`` bars of the committed crypto candles
(tests/data/crypto, both pairs), built as the service builds a request's frame
(``candle_arrays.candles_from_arrays``). Each round times, on every window in turn (the order
rotating from window to window), the reference (``model_inputs`` over the window: what
``latest_inputs`` did before Issue 26), ``latest_inputs`` (the kernel with its plain-window
checks and ``ModelInputs``) and the kernel alone (``last_row`` on the arrays); every window's
result is checked bit for bit against the reference first. Reported: median thread-CPU and
wall µs per window over all windows and rounds, the range of the per-round medians, torch held
to one thread (as the service), and the load average before and after.

Prints one JSON line and appends it to ``--out``
(benchmarks/results/issue26_features_last_row.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import COLUMNS, ValidationSettings
from ai_engine.features import SPEC_V1, ModelInputs, latest_inputs
from ai_engine.features.dataset import model_inputs
from ai_engine.features.last_row import last_row

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "issue26_features_last_row.jsonl"
CRYPTO = ROOT / "tests" / "data" / "crypto"


def windows(count: int, candles: int) -> list[pd.DataFrame]:
    """``count`` distinct validated frames of ``candles`` bars, half from each crypto pair."""
    rng = np.random.default_rng(26)
    settings = ValidationSettings()
    names = ("ETH_BTC-5m.feather", "ADA_BTC-5m.feather")
    raws = [pd.read_feather(CRYPTO / name) for name in names]
    frames = []
    for i in range(count):
        raw = raws[i % 2]
        start = int(rng.integers(0, len(raw) - candles))
        part = raw.iloc[start : start + candles]
        times = pd.DatetimeIndex(part["date"]).as_unit("ns").asi8
        values = part[list(COLUMNS)].to_numpy(np.float64)
        frames.append(candles_from_arrays(times, values, names[i % 2], "5m", settings).frame)
    return frames


def timed(
    paths: dict[str, Callable[[pd.DataFrame], object]], frames: list[pd.DataFrame]
) -> dict[str, np.ndarray]:
    """Thread-CPU and wall ns of every path on each frame, ``(len(frames), 2)`` per path; the
    paths run one after the other on each window, their order rotating from window to window
    (so a busy moment and a warm cache fall on all of them alike)."""
    names = list(paths)
    out = {name: np.empty((len(frames), 2), dtype=np.int64) for name in names}
    for i, frame in enumerate(frames):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            paths[name](frame)
            out[name][i] = time.thread_time_ns() - c0, time.perf_counter_ns() - w0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=400)
    parser.add_argument("--candles", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = [round(v, 2) for v in os.getloadavg()]
    frames = windows(args.windows, args.candles)

    def reference(frame: pd.DataFrame) -> ModelInputs:
        return model_inputs(frame, SPEC_V1, np.array([len(frame) - 1]))

    def served(frame: pd.DataFrame) -> ModelInputs:
        return latest_inputs(frame, SPEC_V1)

    arrays = {id(f): tuple(f[c].to_numpy() for c in COLUMNS) for f in frames}

    def kernel(frame: pd.DataFrame) -> object:
        o, h, low, c, v = arrays[id(frame)]
        return last_row(o, h, low, c, v, SPEC_V1.lookback)

    for frame in frames:  # bit for bit, every window, before timing anything
        ref, got = reference(frame), latest_inputs(frame, SPEC_V1)
        assert np.array_equal(ref.tabular, got.tabular), "tabular differs"
        assert np.array_equal(ref.sequence, got.sequence), "sequence differs"
    paths: dict[str, Callable[[pd.DataFrame], object]] = {
        "reference": reference,
        "latest_inputs": served,
        "kernel": kernel,
    }
    samples: dict[str, list[np.ndarray]] = {k: [] for k in paths}
    for _ in range(args.rounds):
        for name, times in timed(paths, frames).items():
            samples[name].append(times)
    result: dict[str, Any] = {}
    for name, rounds in samples.items():
        every = np.concatenate(rounds)
        result[name] = {
            "cpu_us": round(float(np.median(every[:, 0])) / 1000, 1),
            "wall_us": round(float(np.median(every[:, 1])) / 1000, 1),
            "cpu_us_rounds": [
                round(min(float(np.median(r[:, 0])) for r in rounds) / 1000, 1),
                round(max(float(np.median(r[:, 0])) for r in rounds) / 1000, 1),
            ],
        }
    base = result["reference"]["cpu_us"]
    line = json.dumps(
        {
            "benchmark": "features_last_row",
            "utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip(),
            "windows": args.windows,
            "candles": args.candles,
            "rounds": args.rounds,
            "bit_identical_windows": args.windows,
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            **result,
            "ratio_latest_inputs": round(result["latest_inputs"]["cpu_us"] / base, 3),
            "ratio_kernel": round(result["kernel"]["cpu_us"] / base, 3),
            "median_of": len(frames) * args.rounds,
            "load_average_before": load_before,
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }
    )
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        out.write(line + "\n")


if __name__ == "__main__":
    main()

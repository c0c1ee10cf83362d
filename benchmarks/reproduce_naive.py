"""Naive baselines on exactly the windows of the paper reproductions (numpy, a few seconds).

For every protocol the reproduction scripts use, repeat-last (the last input value for every
horizon step) and window-mean (the input window's mean) are scored like the models: MSE / MAE on
the scaled data, every element of every window.

- ``patchtst``: ETTh1 / ETTh2, lookback 336, all 7 channels per window, validation and test,
  test both in full (2,785 windows) and on the first 2,688 (the official loader's drop_last);
- ``nhits``: ETTh1 / ETTh2 / Exchange, lookback 5 × horizon, each channel its own sample.

    .venv/bin/python benchmarks/reproduce_naive.py --json benchmarks/results/naive.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reproduce_common import (
    DEFAULT_DATA,
    append_jsonl,
    drop_last_count,
    load_dataset,
    naive_metrics,
    provenance,
    rounded,
    segments,
    univariate_windows,
    windows,
)

PROTOCOLS = {
    "patchtst": (("ETTh1", "ETTh2"), lambda horizon: 336, windows),
    "nhits": (("ETTh1", "ETTh2", "exchange_rate"), lambda horizon: 5 * horizon, univariate_windows),
}


def baselines(protocol: str, dataset: str, horizon: int, data_dir: Path) -> dict[str, object]:
    _, lookback_of, make = PROTOCOLS[protocol]
    lookback = lookback_of(horizon)
    parts = segments(dataset, load_dataset(dataset, data_dir), lookback)
    record: dict[str, object] = {
        "protocol": protocol,
        "dataset": dataset,
        "horizon": horizon,
        "lookback": lookback,
    }
    for split in ("val", "test"):
        x, y = make(parts[split], lookback, horizon)
        record[f"{split}_samples"] = len(x)
        record[split] = rounded(naive_metrics(x, y))
        if split == "test" and protocol == "patchtst":
            keep = drop_last_count(len(x))
            record["test_drop_last_samples"] = keep
            record["test_drop_last"] = rounded(naive_metrics(x[:keep], y[:keep]))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per table")
    args = parser.parse_args()
    for protocol, (datasets, _, _) in PROTOCOLS.items():
        for dataset in datasets:
            record = baselines(protocol, dataset, args.horizon, args.data_dir)
            test = record["test"]
            assert isinstance(test, dict)
            line = ", ".join(
                f"{name} MSE {m['mse']:.4f} MAE {m['mae']:.4f}" for name, m in test.items()
            )
            print(f"{protocol:8} {dataset:13} test ({record['test_samples']} samples): {line}")
            if "test_drop_last" in record:
                first = record["test_drop_last"]
                assert isinstance(first, dict)
                line = ", ".join(
                    f"{name} MSE {m['mse']:.4f} MAE {m['mae']:.4f}" for name, m in first.items()
                )
                print(f"{'':22} first {record['test_drop_last_samples']} windows: {line}")
            if args.json:
                append_jsonl(args.json, {**record, "provenance": provenance()})


if __name__ == "__main__":
    main()

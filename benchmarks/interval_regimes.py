"""Interval coverage by volatility regime (issue 24): nominal 80 %, h = 1 and 12, in the
calmest, middle and most turbulent third of the bars.

    .venv/bin/python benchmarks/interval_regimes.py [--out benchmarks/results/interval_regimes.json]

Zero forecast (the intervals of a release without an edge; the residuals of a weak forecast
are about the same); calibrated on the first half of the rows, measured on the second. Scales:
``rms`` (48-bar RMS x sqrt(h), releases before issue 24) and ``garch`` (the GARCH(1,1) term
structure fitted on the first half), each without and with the recent-score rescaling (500
bars of the zero forecast's scores under the same scale, as served). Terciles: of the true
conditional variance on GARCH(1,1)-t data (three seeds, 24,000 bars); on the repository's
crypto files (all one-bar returns), of the ex-ante GARCH variance
(there is no true one; the RMS one where no stationary GARCH fits, as a release would).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.evaluation.calibration import CRYPTO, garch_path
from ai_engine.evaluation.conformal import (
    conformal_quantiles,
    fit_vol_model,
    garch_scale,
    local_scale,
    outcome_scores,
    recent_quantiles,
)

H, LOOKBACK, NOMINAL, RECENT = 12, 96, 0.8, 500


def coverage(returns: np.ndarray, regime_variance: np.ndarray | None) -> dict[str, Any]:
    """Coverage per method and tercile at h = 1 and 12 for one series of one-bar returns."""
    log_close = np.r_[0.0, np.cumsum(returns)]
    rows = np.arange(LOOKBACK + RECENT + H, len(returns) - H)
    windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
    actual = (
        log_close[rows[:, None] + np.arange(1, H + 1)[None, :] + 1] - log_close[rows + 1][:, None]
    )
    half = len(rows) // 2
    model = fit_vol_model(returns[: rows[half]])
    scales = {"rms": local_scale(windows[:, :, None], 48)}
    if model is not None:  # else a release falls back to the RMS scale
        scales["garch"] = garch_scale(windows, model, H)
    zero = np.zeros_like(actual)
    rms = scales["rms"]
    if regime_variance is None:  # ex-ante: the GARCH variance, or the RMS where none fits
        regime_variance = (scales["garch"][:, 0] if "garch" in scales else rms) ** 2
    test_var = regime_variance[half:]
    regime = np.searchsorted(np.quantile(test_var, [1 / 3, 2 / 3]), test_var)
    out: dict[str, Any] = {"vol_model": None if model is None else model.to_json()}
    for name, scale in scales.items():
        scale_h = scale[:, None] * np.sqrt(np.arange(1, H + 1)) if scale.ndim == 1 else scale
        q = conformal_quantiles(actual[:half], zero[:half], scale[:half], NOMINAL)
        scores = outcome_scores(log_close[1:], 48, H, model if name == "garch" else None)
        recent = recent_quantiles(scores, rows[half:], RECENT, NOMINAL)
        ratio = np.where(np.isfinite(recent), recent / q[None, :], 1.0)
        for adaptive in (False, True):
            half_width = q[None, :] * scale_h[half:] * (ratio if adaptive else 1.0)
            inside = np.abs(actual[half:]) <= half_width
            key = f"{name}{'+recent' if adaptive else ''}"
            out[key] = {
                "all": [round(float(v), 3) for v in inside[:, [0, H - 1]].mean(axis=0)],
                **{
                    label: [
                        round(float(v), 3) for v in inside[regime == k][:, [0, H - 1]].mean(axis=0)
                    ]
                    for k, label in enumerate(("calm", "middle", "turbulent"))
                },
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/interval_regimes.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for seed in (0, 1, 2):
        returns, variance = garch_path(24_000, np.random.default_rng(seed))
        rows_variance = variance[np.arange(LOOKBACK + RECENT + H, len(returns) - H) + 1]
        results[f"garch_t_seed{seed}"] = coverage(returns, rows_variance)
    for name in ("ETH_BTC-5m", "ADA_BTC-5m"):
        close = pd.read_feather(CRYPTO / f"{name}.feather")["close"].to_numpy(dtype=np.float64)
        results[name] = coverage(np.diff(np.log(close)), None)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    record = {
        "results": results,
        "commit": head.stdout.strip(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    Path(args.out).write_text(json.dumps(record, indent=1))
    for series, methods in results.items():
        for method, figures in methods.items():
            if method == "vol_model":
                continue
            cells = " | ".join(f"{a:.3f} / {b:.3f}" for a, b in figures.values())
            print(f"| {series} | {method} | {cells} |")


if __name__ == "__main__":
    main()

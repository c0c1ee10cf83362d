"""Interval coverage by volatility regime (issue 24): nominal 80 %, h = 1 and 12, in the
calmest, middle and most turbulent third of the bars.

    nice -n 5 .venv/bin/python benchmarks/interval_regimes.py \
        [--out benchmarks/results/interval_regimes.json]

Zero forecast (the intervals of a release without an edge; the residuals of a weak forecast
are about the same); calibrated on the first half of the rows, measured on the second. Scales:
``rms`` (48-bar RMS x sqrt(h), releases before issue 24), ``garch`` (the GARCH(1,1) term
structure fitted on the first half, where a stationary fit exists: the release of commit
65f9099 used the RMS scale otherwise) and ``model`` (``regimes.fit_scale_model``: that GARCH,
else the EWMA fallback); ``+mondrian``: the score quantiles per bucket of the predicted
one-bar volatility (``regimes.Buckets``); ``+recent``: the recent-score rescaling (500 bars of
the zero forecast's scores under the same scale; with Mondrian, of those scores over their
bucket's quantile, ``regimes.normalised_scores``). ``model+mondrian+recent`` is served.
Terciles: of the true conditional variance on GARCH(1,1)-t data (three seeds, 24,000
bars); on the crypto files (all one-bar returns), of the ex-ante variance of ``model`` (there
is no true one), and, for the served method, also of the 48-bar RMS (``by_rms``).
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

from ai_engine.evaluation.calibration import garch_path
from ai_engine.evaluation.conformal import (
    conformal_quantiles,
    garch_scale,
    local_scale,
    outcome_scores,
    recent_quantiles,
)
from ai_engine.evaluation.regimes import GARCH, Buckets, fit_scale_model, normalised_scores

H, LOOKBACK, NOMINAL, RECENT = 12, 96, 0.8, 500
CRYPTO = Path(os.environ.get("AI_ENGINE_SHARED_DATA", "../shared/data")) / "crypto"
FILES = ("ETH_BTC-5m", "ADA_BTC-5m", "UNITTEST_BTC-1m", "UNITTEST_BTC-30m")
FILES += ("XRP_USDT_USDT-5m-futures",)
SERVED = "model+mondrian+recent"


def by_tercile(inside: np.ndarray, variance: np.ndarray) -> dict[str, list[float]]:
    """Coverage at h = 1 and 12, overall and per tercile of ``variance`` ``(n,)``."""
    regime = np.searchsorted(np.quantile(variance, [1 / 3, 2 / 3]), variance)
    out = {"all": [round(float(v), 3) for v in inside[:, [0, H - 1]].mean(axis=0)]}
    for k, label in enumerate(("calm", "middle", "turbulent")):
        cover = inside[regime == k][:, [0, H - 1]].mean(axis=0)
        out[label] = [round(float(v), 3) for v in cover]
    return out


def coverage(returns: np.ndarray, regime_variance: np.ndarray | None) -> dict[str, Any]:
    """Coverage per method and tercile at h = 1 and 12 for one series of one-bar returns."""
    log_close = np.r_[0.0, np.cumsum(returns)]
    rows = np.arange(LOOKBACK + RECENT + H, len(returns) - H)
    windows = returns[rows[:, None] - LOOKBACK + np.arange(LOOKBACK)[None, :] + 1]
    actual = (
        log_close[rows[:, None] + np.arange(1, H + 1)[None, :] + 1] - log_close[rows + 1][:, None]
    )
    half = len(rows) // 2
    model, kind = fit_scale_model(returns[: rows[half]])
    models: dict[str, Any] = {"rms": None}
    scales = {"rms": local_scale(windows[:, :, None], 48)}
    if model is not None:
        scales["model"] = garch_scale(windows, model, H)
        models["model"] = model
        if kind == GARCH:
            scales["garch"], models["garch"] = scales["model"], model
    zero = np.zeros_like(actual)
    rms = scales["rms"]
    ex_ante = (scales["model"][:, 0] if "model" in scales else rms) ** 2
    test_var = (ex_ante if regime_variance is None else regime_variance)[half:]
    out: dict[str, Any] = {
        "vol_model": None if model is None else {**model.to_json(), "model": kind},
        "rows": [half, len(rows) - half],
    }
    for name, scale in scales.items():
        scale_h = scale[:, None] * np.sqrt(np.arange(1, H + 1)) if scale.ndim == 1 else scale
        flat = conformal_quantiles(actual[:half], zero[:half], scale[:half], NOMINAL)
        scores = outcome_scores(log_close[1:], 48, H, models[name])
        recent = recent_quantiles(scores, rows[half:], RECENT, NOMINAL)
        variants = {name: (flat[None, :], None), f"{name}+recent": (flat[None, :], recent / flat)}
        if name == "model":  # as served: Mondrian quantiles, the normalised recent factor
            buckets = Buckets.fit(actual[:half], zero[:half], scale[:half], NOMINAL)
            q = buckets.lookup(scale[half:])
            normalised = normalised_scores(log_close[1:], 48, H, models[name], buckets)
            factor = recent_quantiles(normalised, rows[half:], RECENT, NOMINAL)
            variants[f"{name}+mondrian"] = (q, None)
            variants[SERVED] = (q, factor)
            out["buckets"] = list(buckets.rows)
        for key, (q, ratio) in variants.items():
            rescale = 1.0 if ratio is None else np.where(np.isfinite(ratio), ratio, 1.0)
            inside = np.abs(actual[half:]) <= q * scale_h[half:] * rescale
            out[key] = by_tercile(inside, test_var)
            if key == SERVED and regime_variance is None:
                out[f"{key} by_rms"] = by_tercile(inside, rms[half:] ** 2)
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
    for name in FILES:
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
            if not isinstance(figures, dict) or "all" not in figures:
                continue
            cells = " | ".join(f"{a:.3f} / {b:.3f}" for a, b in figures.values())
            print(f"| {series} | {method} | {cells} |")


if __name__ == "__main__":
    main()

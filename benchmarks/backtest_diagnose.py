"""Why does (or doesn't) the ensemble beat its members and the baselines? Diagnostics at h12.

    .venv/bin/python benchmarks/backtest_diagnose.py [benchmarks/out/backtest]

Reads ``<dir>/<dataset>/bars.csv`` and ``report.json`` written by backtest_all.py and prints,
per dataset, at the decision horizon (12 bars), on the out-of-sample test bars:

- level vs variation: MAE / zero of each forecast, and of the same forecast with its per-fold
  mean removed (if the demeaned forecast does better, the *level*, i.e. the drift the model
  learned from its training window, is what costs error);
- dispersion (forecast std / actual std), Pearson correlation and the OLS slope of actual on
  forecast (a slope near 0 means the forecast carries no usable information; shrinking it
  towards 0 lowers MAE);
- the ensemble scaled by k in {0.25, 0.5}: MAE / zero (hindsight diagnostics, not a strategy);
- the ensemble re-weighted by inverse validation MAE (what ``weighting = "validation"`` does),
  from each fold's validation figures;
- mean pairwise correlation of the members' forecasts (diversity);
- features: the Spearman IC of each of the 22 v1 features with the forward return at h1 and h12
  over every usable bar (descriptive, in-sample: how much any model could find at all).
"""

from __future__ import annotations

import json
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ai_engine.features import CURRENT_SPEC, training_data
from backtest_all import datasets

MEMBERS = ("xgboost", "lightgbm", "nhits", "patchtst")


def diagnose(folder: Path) -> str:
    bars = pd.read_csv(folder / "bars.csv", index_col=0)
    report = json.loads((folder / "report.json").read_text())
    actual = bars["actual_h12"].to_numpy()
    zero = np.mean(np.abs(actual))
    lines = [
        f"### {folder.name} ({len(bars)} test bars, h12; mean |actual| {zero:.5f}, "
        f"mean actual {actual.mean():+.5f}, median {np.median(actual):+.5f})",
        "",
        "| forecast | MAE / zero | demeaned per fold | std / actual std | corr | slope |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in (*MEMBERS, "ensemble", "momentum", "train_mean"):
        f = bars[f"{name}_h12"].to_numpy()
        demeaned = f - bars.groupby("fold")[f"{name}_h12"].transform("mean").to_numpy()
        std = f.std()
        corr = float(np.corrcoef(f, actual)[0, 1]) if std > 0 else float("nan")
        slope = float(np.cov(f, actual)[0, 1] / f.var()) if std > 0 else float("nan")
        lines.append(
            f"| {name} | {np.mean(np.abs(f - actual)) / zero:.4f} | "
            f"{np.mean(np.abs(demeaned - actual)) / zero:.4f} | "
            f"{std / actual.std():.3f} | {corr:+.3f} | {slope:+.3f} |"
        )
    ensemble = bars["ensemble_h12"].to_numpy()
    shrunk = {k: np.mean(np.abs(k * ensemble - actual)) / zero for k in (0.25, 0.5)}
    weighted = np.zeros_like(actual)
    for fold in report["folds"]:
        maes = {f: fold["validation"][f]["mae"] for f in MEMBERS}
        inverse = {f: 1 / m for f, m in maes.items()}
        total = sum(inverse.values())
        rows = (bars["fold"] == fold["index"]).to_numpy()
        for f in MEMBERS:
            weighted[rows] += inverse[f] / total * bars.loc[rows, f"{f}_h12"].to_numpy()
    best_member = min(MEMBERS, key=lambda f: np.mean(np.abs(bars[f"{f}_h12"] - actual)))
    pair_corr = np.mean(
        [np.corrcoef(bars[f"{a}_h12"], bars[f"{b}_h12"])[0, 1] for a, b in combinations(MEMBERS, 2)]
    )
    zero_beats = sum(
        fold["validation"]["zero_forecast"]["mae"]
        <= min(fold["validation"][f]["mae"] for f in MEMBERS)
        for fold in report["folds"]
    )
    backtest = report["settings"]["backtest"]
    rate = backtest["fee"] + backtest["slippage"]
    bar_returns = bars["buy_and_hold_net_return"].to_numpy().copy()
    bar_returns[0] += rate  # buy-and-hold pays one unit to enter on the first bar ...
    bar_returns[-1] += rate  # ... and one to close out on the last
    position = bars["ensemble_position"].to_numpy()
    gross = float(np.prod(1 + position * bar_returns) - 1)
    trading = report["trading"]["ensemble"]
    lines += [
        "",
        f"- ensemble trading: {gross:+.1%} before costs, {trading['total_return']:+.1%} "
        f"after {trading['turnover']:.0f} units of turnover at {rate:.2%} each "
        f"({trading['trades']} trades, exposure {trading['exposure']:.0%})",
        f"- ensemble x0.25: {shrunk[0.25]:.4f}, x0.5: {shrunk[0.5]:.4f} (MAE / zero); "
        f"inverse-validation-MAE weights: {np.mean(np.abs(weighted - actual)) / zero:.4f}; "
        f"best member in hindsight: {best_member}",
        f"- mean pairwise correlation of member forecasts: {pair_corr:+.3f}",
        f"- folds where the zero forecast beat every member on validation: {zero_beats} of "
        f"{len(report['folds'])}",
    ]
    return "\n".join(lines)


def feature_ics(loader: object) -> str:
    candles = loader()  # type: ignore[operator]
    inputs, targets = training_data(candles.frame, CURRENT_SPEC)
    parts = []
    for step in (1, 12):
        ics = {
            name: float(stats.spearmanr(inputs.tabular[:, i], targets[:, step - 1]).statistic)
            for i, name in enumerate(CURRENT_SPEC.names)
        }
        top = sorted(ics.items(), key=lambda kv: -abs(kv[1]))[:3]
        parts.append(f"h{step}: " + ", ".join(f"{n} {v:+.3f}" for n, v in top))
    return f"- strongest feature ICs over {len(targets)} bars: " + "; ".join(parts)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/out/backtest")
    loaders = {name: loader for name, _, loader in datasets()}
    for folder in sorted(p for p in root.iterdir() if (p / "bars.csv").is_file()):
        print(diagnose(folder))
        if folder.name in loaders:
            print(feature_ics(loaders[folder.name]))
        print()


if __name__ == "__main__":
    main()

"""Forecast quality on the test rows: error, direction and rank agreement, per horizon.

Every model (members, ensemble, baselines) is scored on exactly the same rows: rows where any
model has no finite forecast (a refused signal) are dropped for all of them, and counted.

Direction: a hit is ``sign(forecast) == sign(actual)``; rows where either is exactly 0 carry no
direction and are left out of the count (the zero forecast therefore has no hit rate). The 95%
interval is scipy's exact (Clopper-Pearson) binomial interval. Consecutive 12-bar targets
overlap by 11 bars, so their hits are not independent and that interval is too narrow; the
``non_overlapping`` figures use every H-th row only, whose targets do not overlap. (At h=1 the
targets never overlap, and on a random walk its hits are independent whatever the forecast.)

The information coefficient is pooled over all test rows; a forecast that is constant within
every fold (the training-mean baseline) has none, since its pooled rank correlation would only
measure how the folds' levels happen to line up.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats


def hit_rate(forecast: np.ndarray, actual: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Share of rows whose forecast has the sign of the actual return, with a binomial CI."""
    directed = (forecast != 0) & (actual != 0)
    n = int(directed.sum())
    if n == 0:
        return {"rate": None, "hits": 0, "n": 0, "ci_low": None, "ci_high": None}
    hits = int((np.sign(forecast[directed]) == np.sign(actual[directed])).sum())
    test = stats.binomtest(hits, n, p=0.5)
    ci = test.proportion_ci(confidence_level=confidence)
    return {
        "rate": hits / n,
        "hits": hits,
        "n": n,
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p_value_vs_half": float(test.pvalue),
    }


def information_coefficient(forecast: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """Spearman rank correlation of forecast and actual; None for a constant forecast."""
    if len(forecast) < 3 or np.ptp(forecast) == 0 or np.ptp(actual) == 0:
        return {"rho": None, "p_value": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.spearmanr(forecast, actual)
    rho, p = float(result.statistic), float(result.pvalue)
    return {"rho": rho if np.isfinite(rho) else None, "p_value": p if np.isfinite(p) else None}


def _varies_within_a_fold(column: np.ndarray, folds: np.ndarray | None) -> bool:
    if folds is None:
        return bool(np.ptp(column) > 0) if len(column) else False
    return any(np.ptp(column[folds == f]) > 0 for f in np.unique(folds))


def model_quality(
    forecast: np.ndarray,
    actual: np.ndarray,
    decision_horizon: int,
    folds: np.ndarray | None = None,
) -> dict[str, Any]:
    """MAE/RMSE overall and per horizon; hit rate and IC at the decision horizon and per horizon."""
    error = forecast - actual
    step = decision_horizon - 1
    horizons = range(actual.shape[1])
    hits = [hit_rate(forecast[:, h], actual[:, h]) for h in horizons]
    none = {"rho": None, "p_value": None}
    ics = [
        information_coefficient(forecast[:, h], actual[:, h])
        if _varies_within_a_fold(forecast[:, h], folds)
        else none
        for h in horizons
    ]
    overlap_free = slice(None, None, decision_horizon)
    ic_overlap_free = (
        information_coefficient(forecast[overlap_free, step], actual[overlap_free, step])
        if ics[step]["rho"] is not None
        else none
    )
    return {
        "rows": len(actual),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae_by_horizon": [float(v) for v in np.mean(np.abs(error), axis=0)],
        "rmse_by_horizon": [float(v) for v in np.sqrt(np.mean(error**2, axis=0))],
        "hit_rate": hits[step],
        "hit_rate_non_overlapping": hit_rate(
            forecast[overlap_free, step], actual[overlap_free, step]
        ),
        "hit_rate_by_horizon": hits,
        "ic": ics[step],
        "ic_non_overlapping": ic_overlap_free,
        "ic_by_horizon": [i["rho"] for i in ics],
    }


def scored_rows(forecasts: dict[str, np.ndarray], actual: np.ndarray) -> np.ndarray:
    """Rows where every model and the actual are finite: the rows every model is scored on."""
    mask = np.isfinite(actual).all(axis=1)
    for values in forecasts.values():
        mask &= np.isfinite(values).all(axis=1)
    return mask


def forecast_quality(
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    decision_horizon: int,
    folds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Quality of every model on the common rows; MAE and RMSE relative to the zero forecast."""
    mask = scored_rows(forecasts, actual)
    if not mask.any():
        return {"rows_scored": 0, "rows_dropped": len(actual), "models": {}}
    kept_folds = None if folds is None else folds[mask]
    models = {
        name: model_quality(values[mask], actual[mask], decision_horizon, kept_folds)
        for name, values in forecasts.items()
    }
    zero = model_quality(np.zeros_like(actual[mask]), actual[mask], decision_horizon)
    for row in models.values():
        row["mae_vs_zero"] = row["mae"] / zero["mae"] if zero["mae"] > 0 else None
        row["rmse_vs_zero"] = row["rmse"] / zero["rmse"] if zero["rmse"] > 0 else None
        row["mae_vs_zero_by_horizon"] = [
            m / z if z > 0 else None
            for m, z in zip(row["mae_by_horizon"], zero["mae_by_horizon"], strict=True)
        ]
    return {"rows_scored": int(mask.sum()), "rows_dropped": int((~mask).sum()), "models": models}


def fold_quality(
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    fold_of_row: np.ndarray,
    decision_horizon: int,
) -> list[dict[str, Any]]:
    """Per fold: MAE relative to the zero forecast and hit rate at the decision horizon."""
    mask = scored_rows(forecasts, actual)
    out = []
    step = decision_horizon - 1
    for fold in np.unique(fold_of_row):
        rows = mask & (fold_of_row == fold)
        zero_mae = float(np.mean(np.abs(actual[rows]))) if rows.any() else float("nan")
        entry: dict[str, Any] = {"fold": int(fold), "rows": int(rows.sum()), "zero_mae": zero_mae}
        for name, values in forecasts.items():
            mae = float(np.mean(np.abs(values[rows] - actual[rows]))) if rows.any() else None
            entry[name] = {
                "mae": mae,
                "mae_vs_zero": mae / zero_mae if mae is not None and zero_mae > 0 else None,
                "hit_rate": hit_rate(values[rows, step], actual[rows, step])["rate"],
            }
        out.append(entry)
    return out

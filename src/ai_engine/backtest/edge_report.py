"""The backtest's view of the edge: positions under the release's rule, per-fold verdicts,
the ensemble against the zero forecast, interval coverage and why the signal held.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ai_engine.backtest.walkforward import WalkForward
from ai_engine.evaluation.conformal import coverage_rate
from ai_engine.evaluation.decision import positions
from ai_engine.evaluation.edge import diebold_mariano

ENTRY = {"BUY": 1, "SELL": -1}


def ensemble_positions(walk: WalkForward) -> np.ndarray:
    """Positions ``(T,)`` the signals lead to under each fold's own rule (hysteresis and
    minimum hold included), flat in a fold without edge."""
    out = np.zeros(len(walk.rows))
    for result in walk.folds:
        rule = result.evidence.rule
        mask = walk.fold_of_row == result.fold.index
        if rule is None or not mask.any():
            continue
        expected = np.nan_to_num(walk.forecasts["ensemble"][mask, rule.horizon - 1])
        entries = np.array([ENTRY.get(a, 0) for a in walk.actions[mask]])
        out[mask] = positions(expected, entries, rule)
    return out


def fold_edges(walk: WalkForward) -> list[dict[str, Any]]:
    """``folds[i].edge``: the verdict each fold's training found."""
    out = []
    for result in walk.folds:
        edge = result.evidence.edge
        out.append(
            {
                "enabled": bool(edge.get("enabled")),
                "horizon": edge.get("horizon"),
                "p_value": edge.get("p_value"),
                "oos_r2": edge.get("oos_r2"),
                "net_return_oof": edge.get("net_return"),
                "net_scoring": edge.get("net_scoring", "in-sample (release before issue 24)"),
                "break_even": edge.get("break_even"),
                "inner_folds": edge.get("inner_folds"),
            }
        )
    return out


def ensemble_vs_zero(walk: WalkForward) -> list[dict[str, Any]]:
    """Diebold-Mariano per horizon: is the ensemble's squared error below the zero forecast's?
    (one-sided; the h-step differentials overlap, MA(h - 1): uniform-kernel variance with
    h - 1 lags, Harvey-Leybourne-Newbold factor, Student-t tails; on the rows with an ensemble
    forecast). Its p-values are per horizon, not adjusted for looking at twelve."""
    combined, actual = walk.forecasts["ensemble"], walk.actual
    scored = np.isfinite(combined).all(axis=1) & np.isfinite(actual).all(axis=1)
    out = []
    for h in range(1, actual.shape[1] + 1):
        y, f = actual[scored, h - 1], combined[scored, h - 1]
        test = diebold_mariano(y**2, (y - f) ** 2, h)
        out.append(
            {
                "horizon": h,
                "statistic": test.statistic,
                "p_value": test.p_value,
                "mse_ratio": float(np.mean((y - f) ** 2) / np.mean(y**2)) if len(y) else None,
            }
        )
    return out


def interval_coverage(walk: WalkForward, nominal: float) -> dict[str, Any]:
    """Share of outcomes inside the ensemble's conformal interval, per horizon and overall."""
    scored = np.isfinite(walk.lower).all(axis=1) & np.isfinite(walk.actual).all(axis=1)
    per_h = coverage_rate(walk.actual[scored], walk.lower[scored], walk.upper[scored])
    return {
        "nominal": nominal,
        "rows": int(scored.sum()),
        "mean": float(per_h.mean()) if scored.any() else None,
        "by_horizon": [float(v) for v in per_h] if scored.any() else [],
    }


def hold_figures(walk: WalkForward) -> dict[str, Any]:
    """HOLD share and how many rows held for each reason."""
    rows = len(walk.actions)
    reasons, counts = np.unique(walk.reasons[walk.actions == "HOLD"], return_counts=True)
    return {
        "hold_share": float(np.mean(walk.actions == "HOLD")) if rows else None,
        "reasons": {str(r): int(c) for r, c in zip(reasons, counts, strict=True)},
        "folds_with_edge": sum(bool(r.evidence.enabled) for r in walk.folds),
    }

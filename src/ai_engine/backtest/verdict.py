"""The backtest's headline: ensemble vs buy-and-hold vs doing nothing, after costs.

A reader looks at the first line of a report; it must say plainly which of the three made the
most money over the test period, whether the ensemble traded at all (per fold), and whether the
annualised figures below it come from a period too short to mean much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.evaluation.selection import COST_GRID

SHORT_PERIOD_YEARS = 1.0
"""Annualised figures from a shorter test period are marked: a 15-day loss of 12 % reads as a
yearly -96 %, which nobody should plan with."""
SHORT_MARK = "*"
COST_FLOOR = min(COST_GRID)
"""The lowest round trip the break-even is searched at."""


def backtest_verdict(
    trading: dict[str, dict[str, Any]],
    timestamps: pd.DatetimeIndex,
    fold_of_row: np.ndarray,
    ensemble_positions: np.ndarray,
    hold: dict[str, Any] | None = None,
    fold_verdicts: list[str] | None = None,
    edges: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The verdict as JSON: the three total returns, the best, the folds that never traded,
    whether the period is short, the headline sentence, and why the ensemble held: ``hold``
    (edge_report.hold_figures: folds_with_edge, HOLD reasons), ``fold_verdicts`` (each
    fold's edge verdict line, evidence.edge_line) and ``edges`` (each fold's edge object:
    the break-even cost in the headline)."""
    returns = {
        "ensemble": float(trading["ensemble"]["total_return"]),
        "buy_and_hold": float(trading["buy_and_hold"]["total_return"]),
        "doing_nothing": 0.0,
    }
    best = max(returns, key=lambda name: returns[name])
    years = float(trading["ensemble"]["years"])
    idle = [
        int(fold)
        for fold in np.unique(fold_of_row)
        if not np.any(ensemble_positions[fold_of_row == fold] != 0)
    ]
    days = (timestamps[-1] - timestamps[0]).total_seconds() / 86400 if len(timestamps) else 0.0
    figures = {
        "total_returns": returns,
        "best": best,
        "test_days": days,
        "years": years,
        "short_period": years < SHORT_PERIOD_YEARS,
        "folds_never_traded": idle,
        "folds": len(np.unique(fold_of_row)),
        "folds_with_edge": None if hold is None else hold["folds_with_edge"],
        "hold_reasons": None if hold is None else dict(hold["reasons"]),
        "fold_verdicts": list(fold_verdicts or []),
        "break_even": break_even_figure(edges),
    }
    return {**figures, "headline": _headline(figures), "why": why_line(figures)}


def why_line(v: dict[str, Any]) -> str | None:
    """``why: 0 of 5 folds found an edge out of fold; HOLD reasons: no_edge 1567, ...``."""
    if v.get("folds_with_edge") is None:
        return None
    reasons = v.get("hold_reasons") or {}
    counted = sorted(reasons.items(), key=lambda item: -item[1])
    held = ", ".join(f"{r} {n}" for r, n in counted) if counted else "none"
    return (
        f"why: {v['folds_with_edge']} of {v['folds']} fold(s) found an edge out of fold "
        f"(no edge: the fold's ensemble only HOLDs); HOLD bars by reason: {held}"
    )


def _headline(v: dict[str, Any]) -> str:
    r = v["total_returns"]
    ens, bh = r["ensemble"], r["buy_and_hold"]
    figures = (
        f"ensemble {ens:+.2%}, buy-and-hold {bh:+.2%}, doing nothing +0.00% "
        f"over {v['test_days']:.0f} days of test bars, after costs"
    )
    priced = break_even_clause(v.get("break_even"))
    if len(v["folds_never_traded"]) == v["folds"]:
        cause = ""
        if v.get("folds_with_edge") is not None:
            cause = f" ({v['folds_with_edge']} of {v['folds']} fold(s) found an edge out of fold)"
        return (
            f"{figures}: the ensemble never traded{cause}, so it did no better than doing "
            f"nothing{priced}."
        )
    if v["best"] == "ensemble":
        verdict = "the ensemble beat both buy-and-hold and doing nothing"
    elif v["best"] == "buy_and_hold":
        verdict = "buy-and-hold beat the ensemble" + (
            ", which still beat doing nothing" if ens > 0 else "; the ensemble lost money"
        )
    else:
        verdict = "doing nothing beat both: the ensemble and buy-and-hold lost money"
    return f"{figures}: {verdict}{priced}."


def break_even_figure(edges: Sequence[Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """Across the folds' edge objects: the round trip they were judged at, the folds with an
    edge, and the lowest per-fold break-even (``evidence.verdict_edge``: the largest round trip
    at which a horizon's forecast nets > 0 out of fold) with its horizon; None when no fold's
    verdict has a break-even field (releases made before issue 24)."""
    if not edges or not any("break_even" in e for e in edges):
        return None
    costs = [e["costs"]["round_trip"] for e in edges if "round_trip" in (e.get("costs") or {})]
    priced = [e["break_even"] for e in edges if e.get("break_even")]
    lowest = min(priced, key=lambda b: (b["round_trip"], b["horizon"])) if priced else None
    return {
        "round_trip": max(costs) if costs else None,
        "folds": len(edges),
        "folds_with_edge": sum(bool(e.get("enabled")) for e in edges),
        "folds_priced": len(priced),
        "horizon": None if lowest is None else lowest["horizon"],
        "break_even": None if lowest is None else lowest["round_trip"],
    }


def break_even_clause(figure: Mapping[str, Any] | None) -> str:
    """``; no edge at 0.30%; h=1 would trade at a round trip <= 0.06% (2 of 3 folds)``."""
    if not figure:
        return ""
    cost = figure["round_trip"]
    at = f" at {100 * cost:.2f}%" if cost is not None else " at these costs"
    found, folds = figure["folds_with_edge"], figure["folds"]
    judged = f"; no edge{at}" if found == 0 else f"; an edge{at} in {found} of {folds} fold(s)"
    if figure["break_even"] is None:
        return f"{judged}; no horizon would trade at a round trip >= {100 * COST_FLOOR:.2f}%"
    share = f" ({figure['folds_priced']} of {folds} folds, the lowest)" if folds > 1 else ""
    return (
        f"{judged}; h={figure['horizon']} would trade at a round trip "
        f"<= {100 * figure['break_even']:.2f}%{share}"
    )


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The headline and its notes (folds that never traded, a short period), as plain lines."""
    v = report.get("verdict")
    if v is None:  # a report written before the verdict existed
        return []
    lines = [v["headline"]]
    if v.get("why"):
        lines.append(v["why"])
    lines += [f"fold {k}: {line}" for k, line in enumerate(v.get("fold_verdicts") or [])]
    idle = v["folds_never_traded"]
    if idle and len(idle) < v["folds"]:
        names = ", ".join(str(f) for f in idle)
        lines.append(f"fold(s) {names}: the ensemble never traded (HOLD or flat on every bar).")
    if v["short_period"]:
        lines.append(
            f"{SHORT_MARK} annualised from {v['test_days']:.0f} days of test bars: "
            f"compounding a short period to a year exaggerates it; read the total return."
        )
    return lines


def annual_mark(report: dict[str, Any]) -> str:
    """``*`` after annualised figures when the test period is short, else nothing."""
    v = report.get("verdict")
    return SHORT_MARK if v is not None and v["short_period"] else ""

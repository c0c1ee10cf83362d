"""One backtest: walk-forward forecasts -> forecast quality -> trading simulation -> figures.

``run_backtest`` returns a ``BacktestResult`` whose ``report`` holds every figure and the exact
settings as JSON-able values; ``report.write_report`` turns it into files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.backtest.edge_report import (
    ensemble_positions,
    ensemble_vs_zero,
    fold_edges,
    hold_figures,
    interval_coverage,
)
from ai_engine.backtest.metrics import fold_quality, forecast_quality
from ai_engine.backtest.signals import REFUSED
from ai_engine.backtest.simulation import (
    Simulation,
    bars_per_year,
    performance,
    positions_from_votes,
    simulate,
)
from ai_engine.backtest.verdict import backtest_verdict
from ai_engine.backtest.walkforward import (
    BASELINES,
    BacktestSettings,
    FoldProgress,
    WalkForward,
    run_walkforward,
)
from ai_engine.bundle import library_versions
from ai_engine.data import Candles
from ai_engine.engine import weights_label
from ai_engine.ensemble import vote
from ai_engine.evaluation import Evidence
from ai_engine.evaluation.evidence import edge_line
from ai_engine.features import CURRENT_SPEC, FeatureSpec
from ai_engine.models.base import descriptor
from ai_engine.training import TrainingPlan

ACTIONS: tuple[str, ...] = ("BUY", "SELL", "HOLD", REFUSED)


@dataclass
class BacktestResult:
    """The report (JSON-able figures and settings), the forecasts and the simulations."""

    report: dict[str, Any]
    walk: WalkForward
    simulations: dict[str, Simulation]


def plan_json(plan: TrainingPlan, spec: FeatureSpec) -> dict[str, Any]:
    """The exact training settings: every family's resolved config, the combination, ensemble.

    ``combination`` is how each fold fits its member weights per horizon (the weights used are
    in ``folds[*].combination``); ``fixed_weights_from`` says where a ``fixed`` combination's
    weights come from (the families' defaults, or inverse validation error)."""
    return {
        "preset": plan.preset,
        "combination": plan.evaluation.combination,
        "fixed_weights_from": "defaults" if plan.weighting == "fixed" else plan.weighting,
        "val_fraction": plan.val_fraction,
        "seed": plan.seed,
        "threads": plan.threads,
        "ensemble": plan.ensemble.to_json(),
        "family_overrides": plan.families,
        "members": list(plan.members),
        "plugins": list(plan.plugins),
        "configs": {f: plan.config_for(f, spec) for f in plan.members},
    }


def fold_combination(evidence: Evidence, horizon: int) -> dict[str, Any]:
    """The member weights a fold's ensemble used at its decision horizon, labelled like
    Engine.combination (``/v1/models``, ``ai-engine signal``)."""
    weights = {m: float(w[horizon - 1]) for m, w in evidence.weights.items()}
    return {
        "method": evidence.combination,
        "horizon": horizon,
        "edge": evidence.enabled,
        "weights": weights,
        "per_horizon": {m: [float(v) for v in w] for m, w in evidence.weights.items()},
        "label": weights_label(evidence.combination, horizon, evidence.enabled),
    }


def clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, tuples to lists, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def up_share(actual: np.ndarray, decision_horizon: int) -> dict[str, float | None]:
    """Share of test bars whose actual return at the decision horizon is positive: the hit rate
    of an "always up" forecast, the bar a hit rate must clear in a rising market."""
    column = actual[:, decision_horizon - 1]
    column = column[np.isfinite(column)]
    every = column[::decision_horizon]
    return {
        "actual_up_share": float(np.mean(column > 0)) if len(column) else None,
        "actual_up_share_non_overlapping": float(np.mean(every > 0)) if len(every) else None,
    }


def signal_figures(walk: WalkForward) -> dict[str, Any]:
    """Action counts overall and per fold, how often the quorum was reached."""
    counts = {a: int(np.sum(walk.actions == a)) for a in ACTIONS}
    per_fold = [
        {
            "fold": int(f),
            **{a: int(np.sum(walk.actions[walk.fold_of_row == f] == a)) for a in ACTIONS},
        }
        for f in np.unique(walk.fold_of_row)
    ]
    rows = len(walk.actions)
    return {
        "rows": rows,
        "counts": counts,
        "per_fold": per_fold,
        "healthy_quorum_rate": float(np.mean(walk.healthy >= walk.required)) if rows else None,
        "consensus_reached_rate": float(np.mean(walk.agreeing >= walk.required)) if rows else None,
        "mean_agreeing": float(np.mean(walk.agreeing)) if rows else None,
    }


def trading_positions(
    walk: WalkForward, settings: BacktestSettings, dead_band: float, decision_horizon: int
) -> dict[str, np.ndarray]:
    """Positions of the ensemble, buy-and-hold, the momentum baseline and each member alone."""
    args = (settings.short, settings.hold, decision_horizon)
    step = decision_horizon - 1
    momentum = [vote(float(v), dead_band) for v in walk.forecasts["momentum"][:, step]]
    out = {
        "ensemble": ensemble_positions(walk),
        "buy_and_hold": np.ones(len(walk.rows)),
        "momentum": positions_from_votes(momentum, *args),
    }
    for family in walk.members:
        out[family] = positions_from_votes(list(walk.votes[family]), *args)
    return out


def run_backtest(
    candles: Candles,
    plan: TrainingPlan,
    settings: BacktestSettings,
    spec: FeatureSpec = CURRENT_SPEC,
    progress: FoldProgress | None = None,
    keep_models: bool = False,
) -> BacktestResult:
    """Walk forward over ``candles``, score the forecasts, simulate trading, gather figures."""
    started, cpu_started = time.perf_counter(), time.process_time()
    frame = candles.frame
    walk = run_walkforward(
        frame, plan, settings, spec, progress, keep_models, candles.symbol, candles.timeframe
    )
    decision = plan.ensemble.decision_horizon
    quality = forecast_quality(walk.forecasts, walk.actual, decision, walk.fold_of_row)
    per_fold = fold_quality(walk.forecasts, walk.actual, walk.fold_of_row, decision)
    close = frame["close"].to_numpy()
    returns = close[walk.rows + 1] / close[walk.rows] - 1.0
    if settings.bars_per_year is not None:
        per_year, basis = settings.bars_per_year, "given"
    else:
        per_year, basis = bars_per_year(candles.timeframe, pd.DatetimeIndex(frame.index))
    positions = trading_positions(walk, settings, plan.ensemble.dead_band, decision)
    sims = {
        name: simulate(p, returns, settings.fee, settings.slippage) for name, p in positions.items()
    }
    trading = {
        name: performance(s, per_year, settings.fee, settings.slippage) for name, s in sims.items()
    }
    folds = []
    for result, fold_figures, edge in zip(walk.folds, per_fold, fold_edges(walk), strict=True):
        folds.append(
            {
                **result.fold.to_json(frame.index),
                "fit_seconds": result.fit_seconds,
                "ensemble": {k: v for k, v in result.ensemble.to_json().items() if k != "weights"},
                "combination": fold_combination(result.evidence, result.ensemble.decision_horizon),
                "validation": {
                    k: {m: v for m, v in row.items() if m != "mae_by_horizon"}
                    for k, row in result.validation.items()
                },
                "test_metrics": fold_figures,
                "edge": edge,
            }
        )
    hold = hold_figures(walk)
    fold_verdicts = [edge_line(result.evidence.edge) for result in walk.folds]
    report = {
        "kind": "ai-engine walk-forward backtest",
        "verdict": backtest_verdict(
            trading,
            walk.timestamps,
            walk.fold_of_row,
            sims["ensemble"].positions,
            hold,
            fold_verdicts,
            [result.evidence.edge for result in walk.folds],
        ),
        "data": {
            "symbol": candles.symbol,
            "timeframe": candles.timeframe,
            "bars": len(frame),
            "start": str(frame.index[0]),
            "end": str(frame.index[-1]),
            "warnings": list(candles.warnings),
        },
        "settings": {
            "backtest": settings.to_json(),
            "layout": walk.layout.to_json(),
            "bars_per_year": per_year,
            "bars_per_year_basis": basis,
            "momentum_lookback": settings.momentum_lookback or spec.horizon,
            "baselines": {
                "zero": "forecast 0 at every horizon (random walk)",
                "momentum": "mean log return of the last momentum_lookback bars times h",
                "train_mean": "mean training target of the fold, per horizon (drift)",
            },
            "plan": plan_json(plan, spec),
            "feature_spec": {
                "version": spec.version,
                "fingerprint": spec.fingerprint(),
                "horizon": spec.horizon,
                "lookback": spec.lookback,
                "min_history": spec.min_history,
            },
            "libraries": library_versions(
                tuple(lib for f in plan.members for lib in descriptor(f).libraries)
            ),
        },
        "test_period": {
            "start": str(walk.timestamps[0]),
            "end": str(walk.timestamps[-1]),
            "rows": len(walk.rows),
        },
        "forecast": {
            "decision_horizon": decision,
            "members": list(walk.members),
            "baselines": list(BASELINES),
            **up_share(walk.actual, decision),
            **quality,
        },
        "signals": {**signal_figures(walk), **hold},
        "edge": {
            "ensemble_vs_zero": ensemble_vs_zero(walk),
            "intervals": interval_coverage(walk, plan.evaluation.coverage),
        },
        "trading": trading,
        "folds": folds,
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
    }
    return BacktestResult(clean(report), walk, sims)

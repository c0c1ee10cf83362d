"""A release's evidence, stored as ``release.evaluation``, and its use at serving time.

``evaluate`` turns out-of-fold forecasts into ``Evidence``: the combination weights per
horizon (fitted on all out-of-fold rows), the edge verdict, the decision rule (or none), the
conformal score quantiles and the input-distance gate. ``Evidence.to_json`` /
``from_json`` is the release's ``evaluation`` object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ai_engine.evaluation.combination import combine_forecasts, cross_fitted, fit_weights
from ai_engine.evaluation.conformal import (
    conformal_quantiles,
    interval,
    local_scale,
    recent_quantiles_at_last,
)
from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.gates import DistanceGate
from ai_engine.evaluation.oof import OutOfFold
from ai_engine.evaluation.verdict import EDGE_METHOD, EvaluationSettings, judge
from ai_engine.features import ModelInputs

FORMAT = 1


@dataclass(frozen=True)
class Evidence:
    """What the out-of-fold evaluation found, and what serving needs of it."""

    combination: str
    weights: dict[str, np.ndarray]
    edge: dict[str, Any]
    rule: DecisionRule | None
    costs: Costs
    quantiles: np.ndarray
    coverage: float
    vol_window: int
    gate: DistanceGate
    straddle_gate: bool
    zero_quantiles: np.ndarray
    """The zero forecast's score quantiles on the calibration rows ``(H,)``, the reference for
    the recent ones."""
    recent_window: int

    @property
    def enabled(self) -> bool:
        return self.rule is not None

    def combined(self, forecasts: Mapping[str, np.ndarray]) -> np.ndarray:
        """Combined forecast ``(n, H)`` from healthy members' ``{family: (n, H)}``."""
        return combine_forecasts(forecasts, self.weights)

    def bounds(
        self, combined: np.ndarray, windows: np.ndarray, recent: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds ``(n, H)`` around ``combined`` for return windows ``(n, L, c)``;
        ``recent`` ``(n, H)``: the zero forecast's recent score quantiles (NaN: none)."""
        quantiles = self.quantiles
        if recent is not None:
            ratio = np.where(self.zero_quantiles > 0, recent / self.zero_quantiles, np.nan)
            quantiles = np.where(np.isfinite(ratio), quantiles * ratio, quantiles)
        return interval(combined, local_scale(windows, self.vol_window), quantiles)

    def recent(self, close: np.ndarray) -> np.ndarray | None:
        """Recent score quantiles ``(1, H)`` at the last of ``close`` ``(n,)``, or None; only
        the bars the window needs are read."""
        if self.recent_window < 1:
            return None
        horizon = len(self.quantiles)
        tail = np.log(close[-(self.recent_window + horizon + self.vol_window + 2) :])
        return recent_quantiles_at_last(
            tail, self.vol_window, horizon, self.recent_window, self.coverage
        )

    def edge_summary(self) -> dict[str, Any]:
        """The Signal's ``edge`` object."""
        keys = ("enabled", "horizon", "method", "p_value", "oos_r2")
        return {k: self.edge.get(k) for k in keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "combination": self.combination,
            "weights": {m: w.tolist() for m, w in self.weights.items()},
            "edge": self.edge,
            "decision": None if self.rule is None else self.rule.to_json(),
            "costs": self.costs.to_json(),
            "intervals": {
                "method": "split conformal, scores normalised by local volatility",
                "coverage": self.coverage,
                "vol_window": self.vol_window,
                "quantiles": self.quantiles.tolist(),
                "zero_quantiles": self.zero_quantiles.tolist(),
                "recent_window": self.recent_window,
            },
            "input_gate": self.gate.to_json(),
            "straddle_gate": self.straddle_gate,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        intervals = data["intervals"]
        return cls(
            combination=str(data["combination"]),
            weights={m: np.asarray(w, dtype=np.float64) for m, w in data["weights"].items()},
            edge=dict(data["edge"]),
            rule=None if data["decision"] is None else DecisionRule.from_json(data["decision"]),
            costs=Costs(float(data["costs"]["fee"]), float(data["costs"]["slippage"])),
            quantiles=np.asarray(intervals["quantiles"], dtype=np.float64),
            coverage=float(intervals["coverage"]),
            vol_window=int(intervals["vol_window"]),
            gate=DistanceGate.from_json(data["input_gate"]),
            straddle_gate=bool(data.get("straddle_gate", False)),
            zero_quantiles=np.asarray(
                intervals.get("zero_quantiles", intervals["quantiles"]), dtype=np.float64
            ),
            recent_window=int(intervals.get("recent_window", 0)),
        )


def no_edge(reason: str, costs: Costs, alpha: float) -> dict[str, Any]:
    return {
        "enabled": False,
        "horizon": None,
        "method": EDGE_METHOD,
        "p_value": None,
        "oos_r2": None,
        "net_return": None,
        "alpha": alpha,
        "costs": costs.to_json(),
        "reason": reason,
        "per_horizon": [],
    }


def evaluate(
    oof: OutOfFold | None,
    inputs: ModelInputs,
    targets: np.ndarray,
    settings: EvaluationSettings,
    defaults: Mapping[str, float],
    min_consensus: int,
) -> Evidence:
    """Evidence from out-of-fold forecasts of the training ``inputs`` / ``targets`` ``(n, H)``.

    At horizons where the combined forecast does not beat the zero forecast (the test at the
    verdict's level, and OOS R^2 > 0), and at every horizon of a release without an edge, the
    weights are set to 0: the forecast there is the random walk's, and the intervals are built
    around it.

    ``oof`` None (too few rows for one fold): no edge, weights 0, and intervals around the zero
    forecast from the training targets (the zero forecast has nothing fitted, so its in-sample
    residuals are honest).
    """
    gate = DistanceGate.fit(inputs.tabular)
    costs = settings.costs
    if oof is None:
        scale = local_scale(inputs.sequence, settings.vol_window)
        zero = conformal_quantiles(targets, np.zeros_like(targets), scale, settings.coverage)
        return Evidence(
            settings.combination,
            {m: np.zeros(targets.shape[1]) for m in defaults},
            no_edge("too few training rows for one out-of-fold segment", costs, settings.alpha),
            None,
            costs,
            zero,
            settings.coverage,
            settings.vol_window,
            gate,
            settings.straddle_gate,
            zero,
            settings.recent_window,
        )
    combined = cross_fitted(settings.combination, oof.forecasts, oof.actual, oof.segments, defaults)
    results, rule = judge(oof, combined, settings, min_consensus)
    weights = fit_weights(settings.combination, oof.forecasts, oof.actual, defaults)
    level = settings.alpha / len(results)
    skill = np.array([r.p_value < level and r.oos_r2 > 0 and rule is not None for r in results])
    weights = {m: np.where(skill, w, 0.0) for m, w in weights.items()}
    combined = np.where(skill[None, :], combined, 0.0)
    scale = local_scale(inputs.sequence[oof.rows], settings.vol_window)
    quantiles = conformal_quantiles(oof.actual, combined, scale, settings.coverage)
    zero = np.zeros_like(combined)
    zero_quantiles = conformal_quantiles(oof.actual, zero, scale, settings.coverage)
    chosen = next((r for r in results if rule and r.horizon == rule.horizon), None)
    best = chosen or min(results, key=lambda r: r.p_value)
    edge = {
        "enabled": rule is not None,
        "horizon": None if rule is None else rule.horizon,
        "method": EDGE_METHOD,
        "p_value": best.p_value,
        "oos_r2": best.oos_r2,
        "net_return": best.net_return,
        "alpha": settings.alpha,
        "level_per_horizon": settings.alpha / len(results),
        "costs": costs.to_json(),
        "oof_rows": len(oof.rows),
        "inner_folds": oof.folds,
        "reason": None if rule else "no horizon passes the test, OOS R^2 > 0 and net > 0",
        "per_horizon": [r.to_json() for r in results],
    }
    return Evidence(
        settings.combination,
        weights,
        edge,
        rule,
        costs,
        quantiles,
        settings.coverage,
        settings.vol_window,
        gate,
        settings.straddle_gate,
        zero_quantiles,
        settings.recent_window,
    )


def edge_line(edge: Mapping[str, Any]) -> str:
    """The verdict in one plain line, for the CLI and the doctor."""
    costs = edge.get("costs") or {}
    cost = f"{100 * costs['round_trip']:.2f}% round trip" if "round_trip" in costs else "costs"
    if not edge:
        return "no edge verdict (release made before out-of-fold evaluation)"
    if edge.get("enabled"):
        net = edge.get("net_return")
        result = f", out-of-fold net {100 * net:+.2f}% after {cost}" if net is not None else ""
        return (
            f"edge at h={edge['horizon']}, p={edge['p_value']:.2g}, "
            f"OOS R2 {edge['oos_r2']:.4f}{result}"
        )
    if edge.get("p_value") is None:
        return f"no edge: {edge.get('reason')}: HOLD"
    return f"no edge at any horizon out of fold (best p={edge['p_value']:.2g}, after {cost}): HOLD"

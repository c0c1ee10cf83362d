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

from ai_engine.evaluation.combination import (
    Defaults,
    combine_forecasts,
    cross_fitted,
    fit_weights,
    time_blocks,
)
from ai_engine.evaluation.conformal import (
    VolModel,
    conformal_quantiles,
    garch_scale,
    horizon_scale,
    interval,
    local_scale,
    recent_quantiles_at_last,
)
from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.gates import DistanceGate
from ai_engine.evaluation.oof import OutOfFold
from ai_engine.evaluation.regimes import GARCH, Buckets, fit_scale_model, recent_factor_at_last
from ai_engine.evaluation.verdict import EDGE_METHOD, EvaluationSettings, Verdict, judge
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
    vol_model: VolModel | None = None
    """The intervals' volatility term structure (None: RMS of ``vol_window`` bars x sqrt(h),
    as releases made before it)."""
    buckets: Buckets | None = None
    """Mondrian quantiles by predicted volatility (``regimes``); None: ``quantiles`` for all
    rows, as releases made before them."""
    vol_kind: str = GARCH
    """What ``vol_model`` is: ``garch(1,1)`` or its ``ewma`` fallback (``regimes``)."""

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
        ``recent`` ``(n, H)``: the zero forecast's recent score quantiles, or with ``buckets``
        the rescaling factor itself (``regimes.normalised_scores``) (NaN: none)."""
        scale = self.scales(windows, combined.shape[1])
        if self.buckets is not None:
            quantiles = self.buckets.lookup(scale)
            ratio = recent
        else:
            quantiles = self.quantiles
            ratio = None
            if recent is not None:
                ratio = np.where(self.zero_quantiles > 0, recent / self.zero_quantiles, np.nan)
        if ratio is not None:
            quantiles = np.where(np.isfinite(ratio), quantiles * ratio, quantiles)
        return interval(combined, scale, quantiles)

    def scales(self, windows: np.ndarray, horizon: int) -> np.ndarray:
        """The intervals' scale for return windows ``(n, L, c)``: ``(n, H)`` from the
        volatility model, else ``(n,)`` (the RMS of the last ``vol_window`` returns)."""
        return scales_of(windows, self.vol_window, self.vol_model, horizon)

    def recent(self, close: np.ndarray) -> np.ndarray | None:
        """Recent score quantiles ``(1, H)`` at the last of ``close`` ``(n,)``, or None; only
        the bars the window needs are read."""
        if self.recent_window < 1:
            return None
        horizon = len(self.quantiles)
        tail = np.log(close[-(self.recent_window + horizon + self.vol_window + 2) :])
        if self.buckets is not None and self.vol_model is not None:
            return recent_factor_at_last(
                tail,
                self.vol_window,
                horizon,
                self.recent_window,
                self.coverage,
                self.vol_model,
                self.buckets,
            )
        return recent_quantiles_at_last(
            tail, self.vol_window, horizon, self.recent_window, self.coverage, self.vol_model
        )

    def edge_summary(self) -> dict[str, Any]:
        """The Signal's ``edge`` object."""
        keys = (
            "enabled",
            "horizon",
            "method",
            "p_value",
            "oos_r2",
            "net_return",
            "break_even",
            "rules_tested",
            "costs",
        )
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
                "method": "split conformal, scores normalised by "
                + (
                    f"a {self.vol_kind} volatility term structure"
                    if self.vol_model
                    else "local volatility"
                )
                + (", mondrian quantiles by its one-bar volatility" if self.buckets else ""),
                "coverage": self.coverage,
                "vol_window": self.vol_window,
                "quantiles": self.quantiles.tolist(),
                "zero_quantiles": self.zero_quantiles.tolist(),
                "recent_window": self.recent_window,
                "vol_model": None
                if self.vol_model is None
                else {**self.vol_model.to_json(), "model": self.vol_kind},
                "buckets": None if self.buckets is None else self.buckets.to_json(),
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
            vol_model=VolModel.from_json(intervals.get("vol_model")),
            buckets=Buckets.from_json(intervals.get("buckets")),
            vol_kind=str((intervals.get("vol_model") or {}).get("model", GARCH)),
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
    defaults: Defaults,
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
    vol_model, vol_kind = fit_scale_model(inputs.sequence[:, -1, 0])
    if oof is None:
        scale = scales_of(inputs.sequence, settings.vol_window, vol_model, targets.shape[1])
        zero = conformal_quantiles(targets, np.zeros_like(targets), scale, settings.coverage)
        buckets = mondrian(targets, np.zeros_like(targets), scale, settings.coverage, vol_model)
        members = defaults if isinstance(defaults, Mapping) else {}
        return Evidence(
            settings.combination,
            {m: np.zeros(targets.shape[1]) for m in members},
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
            vol_model,
            buckets,
            vol_kind,
        )
    blocks = time_blocks(oof.segments, oof.rows)
    scored = blocks > blocks.min()
    combined = cross_fitted(settings.combination, oof.forecasts, oof.actual, blocks, defaults)
    scale = scales_of(inputs.sequence[oof.rows], settings.vol_window, vol_model, targets.shape[1])
    half = None
    if settings.straddle_gate:  # the judged rule vetoes what the served one will
        q = conformal_quantiles(
            oof.actual[scored], combined[scored], scale[scored], settings.coverage
        )
        half = q[None, :] * horizon_scale(scale, combined.shape[1])
    verdict = judge(oof, combined, settings, min_consensus, half)
    rule = verdict.rule
    weights = fit_weights(settings.combination, oof.forecasts, oof.actual, defaults)
    skill = skilled(verdict, settings.alpha)
    weights = {m: np.where(skill, w, 0.0) for m, w in weights.items()}
    combined = np.where(skill[None, :], combined, 0.0)[scored]
    actual, scale = oof.actual[scored], scale[scored]
    quantiles = conformal_quantiles(actual, combined, scale, settings.coverage)
    zero_quantiles = conformal_quantiles(actual, np.zeros_like(combined), scale, settings.coverage)
    buckets = mondrian(actual, combined, scale, settings.coverage, vol_model)
    edge = verdict_edge(verdict, settings, oof.folds, len(oof.rows))
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
        vol_model,
        buckets,
        vol_kind,
    )


def mondrian(
    actual: np.ndarray,
    forecast: np.ndarray,
    scale: np.ndarray,
    coverage: float,
    model: VolModel | None,
) -> Buckets | None:
    """Mondrian quantiles on the calibration rows where there is a volatility model (the
    rescaling factor reads its path); None otherwise, and with a single bucket."""
    if model is None:
        return None
    buckets = Buckets.fit(actual, forecast, scale, coverage)
    return buckets if len(buckets.rows) > 1 else None


def scales_of(
    windows: np.ndarray, vol_window: int, model: VolModel | None, horizon: int
) -> np.ndarray:
    """``Evidence.scales`` before there is an Evidence."""
    if model is None:
        return local_scale(windows, vol_window)
    return garch_scale(windows[:, :, 0].astype(np.float64), model, horizon)


def skilled(verdict: Verdict, alpha: float) -> np.ndarray:
    """Horizons ``(H,)`` whose weights are kept: none without an edge; else the decision
    horizon and those where Clark-West rejects at ``alpha / H`` with OOS R^2 > 0."""
    rule, level = verdict.rule, alpha / len(verdict.results)
    return np.array(
        [
            rule is not None and ((r.p_value < level and r.oos_r2 > 0) or r.horizon == rule.horizon)
            for r in verdict.results
        ]
    )


def verdict_edge(
    verdict: Verdict, settings: EvaluationSettings, folds: int, rows: int
) -> dict[str, Any]:
    """The release's ``edge`` object from a verdict."""
    results, rule = verdict.results, verdict.rule
    chosen = next((r for r in results if rule and r.horizon == rule.horizon), None)
    best = chosen or min(results, key=lambda r: r.p_value)
    priced = [r for r in results if r.break_even is not None]
    cheapest = max(priced, key=lambda r: (r.break_even, -r.horizon)) if priced else None
    if rule is not None:
        reason = None
    elif verdict.spa_p_value >= settings.alpha:
        reason = f"no rule beats holding after the choice of rule (SPA p >= {settings.alpha})"
    else:
        reason = "the rule chosen on earlier segments earns nothing on later ones"
    return {
        "enabled": rule is not None,
        "horizon": None if rule is None else rule.horizon,
        "method": EDGE_METHOD,
        "p_value": verdict.spa_p_value,
        "clark_west_p_value": best.p_value,
        "oos_r2": best.oos_r2,
        "net_return": verdict.net_return,
        "net_bars": verdict.net_bars,
        "net_scoring": "nested: rule chosen on earlier segments, net on later ones",
        "net_return_in_sample": verdict.net_in_sample,
        "margin": verdict.margin,
        "break_even": None
        if cheapest is None
        else {"horizon": cheapest.horizon, "round_trip": cheapest.break_even},
        "alpha": settings.alpha,
        "costs": settings.costs.to_json(),
        "oof_rows": rows,
        "scored_rows": verdict.scored_rows,
        "rules_tested": verdict.rules_tested,
        "inner_folds": folds,
        "reason": reason,
        "per_horizon": [r.to_json() for r in results],
    }


def edge_line(edge: Mapping[str, Any]) -> str:
    """The verdict in one plain line, for the CLI and the doctor."""
    costs = edge.get("costs") or {}
    cost = f"{100 * costs['round_trip']:.2f}% round trip" if "round_trip" in costs else "costs"
    if not edge:
        return "no edge verdict (release made before out-of-fold evaluation)"
    if edge.get("enabled"):
        net, bars = edge.get("net_return"), edge.get("net_bars")
        unseen = f" on {bars:,} bars the choice did not see" if bars else ""
        result = (
            f", out-of-fold net {100 * net:+.2f}%{unseen} after {cost}" if net is not None else ""
        )
        test = "SPA p" if edge.get("method") == EDGE_METHOD else "p"
        return (
            f"edge at h={edge['horizon']}, {test}={edge['p_value']:.2g}, "
            f"OOS R2 {edge['oos_r2']:.4f}{result}{break_even_clause(edge)}"
        )
    if edge.get("p_value") is None:
        return f"no edge: {edge.get('reason')}: HOLD"
    if edge.get("method") == EDGE_METHOD:
        rules = edge.get("rules_tested")
        over = f" over {rules} rules" if rules else ""
        return (
            f"no edge after {cost} (SPA p={edge['p_value']:.2g}{over})"
            f"{break_even_clause(edge)}: HOLD"
        )
    return f"no edge at any horizon out of fold (best p={edge['p_value']:.2g}, after {cost}): HOLD"


def break_even_clause(edge: Mapping[str, Any]) -> str:
    """``; h=1 would net > 0 at a round trip <= 0.06%`` (empty when unknown)."""
    found = edge.get("break_even")
    if not found:
        return ""
    return (
        f"; h={found['horizon']} would net > 0 out of fold at a round trip "
        f"<= {100 * found['round_trip']:.2f}%"
    )

"""Weighting, voting and consensus: member forecasts in, one Signal (or a refusal) out.

Each healthy member votes UP, DOWN or FLAT by the sign of its forecast at the decision horizon,
with a dead band. BUY (SELL) needs at least ``min_consensus`` UP (DOWN) votes and a weighted
forecast beyond the dead band; otherwise HOLD. Weights are renormalised over healthy members.
Fewer healthy members than the quorum is a ``ConsensusError``, never a HOLD.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np

from ai_engine.contract import SCHEMA_VERSION, SchemaVersion
from ai_engine.errors import ConfigError, ConsensusError
from ai_engine.evaluation import Evidence
from ai_engine.models.family import default_weights

Action = Literal["BUY", "SELL", "HOLD"]
Vote = Literal["UP", "DOWN", "FLAT"]


@dataclass(frozen=True)
class EnsembleSettings:
    """How member forecasts become a signal; pinned in every release."""

    weights: dict[str, float] = field(default_factory=default_weights)
    """Member -> weight; by default each default member's descriptor ``default_weight``."""
    min_consensus: int = 3
    dead_band: float = 0.001
    decision_horizon: int = 12

    def __post_init__(self) -> None:
        if not self.weights or any(not np.isfinite(w) or w < 0 for w in self.weights.values()):
            raise ConfigError(f"ensemble weights must be finite and >= 0, found {self.weights}")
        if sum(self.weights.values()) <= 0:
            raise ConfigError(f"ensemble weights must not all be 0, found {self.weights}")
        if not 1 <= self.min_consensus <= len(self.weights):
            raise ConfigError(
                f"min_consensus must be between 1 and {len(self.weights)} (the number of members),"
                f" found {self.min_consensus}"
            )
        if not (np.isfinite(self.dead_band) and self.dead_band >= 0):
            raise ConfigError(f"dead_band must be a finite number >= 0, found {self.dead_band}")
        if self.decision_horizon < 1:
            raise ConfigError(f"decision_horizon must be >= 1, found {self.decision_horizon}")

    def with_evidence(self, evidence: Evidence) -> EnsembleSettings:
        """These settings with the decision horizon the edge verdict chose (if any)."""
        if evidence.rule is None:
            return self
        return dataclasses.replace(self, decision_horizon=evidence.rule.horizon)

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "min_consensus": self.min_consensus,
            "dead_band": self.dead_band,
            "decision_horizon": self.decision_horizon,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnsembleSettings:
        known = {"weights", "min_consensus", "dead_band", "decision_horizon"}
        if unknown := sorted(set(data) - known):
            raise ConfigError(
                f"unknown ensemble setting(s) {unknown}; expected some of {sorted(known)}"
            )
        return cls(**data)


def weights_from_validation_error(errors: dict[str, float]) -> dict[str, float]:
    """Inverse-error weights summing to 1: a member with half the error gets twice the weight."""
    if not errors or any(not np.isfinite(e) or e <= 0 for e in errors.values()):
        raise ConfigError(f"validation errors must be finite and > 0, found {errors}")
    inverse = {family: 1.0 / error for family, error in errors.items()}
    total = sum(inverse.values())
    return {family: value / total for family, value in inverse.items()}


@dataclass(frozen=True)
class MemberForecast:
    """One member's answer: a forecast ``(horizon,)`` when healthy, else the reason it is not."""

    family: str
    version: str
    forecast: np.ndarray | None
    reason: str | None = None

    @property
    def healthy(self) -> bool:
        return self.forecast is not None


@dataclass(frozen=True)
class MemberVote:
    family: str
    version: str
    forecast: list[float] | None
    weight: float
    vote: Vote | None
    healthy: bool
    reason: str | None
    bundle_sha256: str | None = None
    """The member bundle's manifest digest pinned by the release (set by Engine.signal_from)."""


class ConsensusCounts(TypedDict):
    """How many votes the action needed, how many agreed with it, how many members voted."""

    required: int
    agreeing: int
    healthy: int


@dataclass(frozen=True)
class Signal:
    """The engine's decision for the last candle, with every member's contribution."""

    symbol: str
    timeframe: str
    as_of: str
    horizon: int
    action: Action
    confidence: float
    """The share (0..1) of combination weight at the decision horizon behind the side the signal
    leans to (BUY/SELL: the action's side; HOLD: the expected return's sign, or the majority
    vote when it is 0). 0 when no member carries weight (no edge): nothing backs a direction."""
    expected_return: float
    forecast: list[float]
    release: str
    consensus: ConsensusCounts
    members: list[MemberVote]
    reason: str | None = None
    """Why the action is HOLD: no_edge, below_cost, no_consensus, ood_input, stale_data,
    straddles_zero; None for BUY and SELL."""
    forecast_lower: list[float] = field(default_factory=list)
    forecast_upper: list[float] = field(default_factory=list)
    """Conformal interval bounds per horizon, ``(horizon,)`` each (default 80 % coverage)."""
    edge: dict[str, Any] = field(default_factory=dict)
    """{enabled, horizon, method, p_value, oos_r2}: the release's out-of-fold edge verdict."""
    decision: dict[str, Any] = field(default_factory=dict)
    """{entry_threshold, exit_threshold, min_hold_bars}: the cost-aware position rule."""
    schema_version: SchemaVersion = SCHEMA_VERSION
    generated_at: str = ""
    valid_until: str = ""
    """When the signal was made and the end of the bar it is for (ISO-8601 UTC; set by
    Engine.signal_from; ai_engine.contract)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "as_of": self.as_of,
            "horizon": self.horizon,
            "action": self.action,
            "confidence": self.confidence,
            "expected_return": self.expected_return,
            "forecast": self.forecast,
            "release": self.release,
            "consensus": dict(self.consensus),
            "members": [vars(m) for m in self.members],
            "reason": self.reason,
            "forecast_lower": self.forecast_lower,
            "forecast_upper": self.forecast_upper,
            "edge": dict(self.edge),
            "decision": dict(self.decision),
            "schema_version": self.schema_version,
            "generated_at": self.generated_at,
            "valid_until": self.valid_until,
        }


def healthy_weights(members: list[MemberForecast], settings: EnsembleSettings) -> dict[str, float]:
    """Weights renormalised over healthy members; raise ConsensusError below the quorum."""
    healthy = [m for m in members if m.healthy]
    if len(healthy) < settings.min_consensus:
        reasons = "; ".join(f"{m.family}: {m.reason}" for m in members if not m.healthy)
        raise ConsensusError(
            f"{len(healthy)} of {len(members)} models healthy, the quorum needs "
            f"{settings.min_consensus}; unhealthy: {reasons or 'none'}"
        )
    raw = {m.family: settings.weights.get(m.family, 0.0) for m in healthy}
    total = sum(raw.values())
    if total <= 0:
        raise ConsensusError(
            f"healthy members {sorted(raw)} all have weight 0 in {settings.weights}"
        )
    return {family: w / total for family, w in raw.items()}


def weighted_forecast(members: list[MemberForecast], weights: dict[str, float]) -> np.ndarray:
    """Sum of healthy forecasts times their renormalised weights, ``(horizon,)``."""
    return np.sum(
        [weights[m.family] * m.forecast for m in members if m.forecast is not None], axis=0
    )


def vote(value: float, dead_band: float) -> Vote:
    if value > dead_band:
        return "UP"
    if value < -dead_band:
        return "DOWN"
    return "FLAT"


def combine(
    members: list[MemberForecast],
    settings: EnsembleSettings,
    *,
    symbol: str,
    timeframe: str,
    as_of: str,
    release: str,
) -> Signal:
    """Turn member forecasts into a Signal; ConsensusError below the quorum."""
    weights = healthy_weights(members, settings)
    step = settings.decision_horizon - 1
    combined = weighted_forecast(members, weights)
    votes = {
        m.family: vote(float(m.forecast[step]), settings.dead_band)
        for m in members
        if m.forecast is not None
    }
    counts = {v: sum(1 for x in votes.values() if x == v) for v in ("UP", "DOWN", "FLAT")}
    share = {v: sum(weights[f] for f, x in votes.items() if x == v) for v in ("UP", "DOWN")}
    expected = float(combined[step])
    action: Action = "HOLD"
    if counts["UP"] >= settings.min_consensus and expected > settings.dead_band:
        action = "BUY"
    elif counts["DOWN"] >= settings.min_consensus and expected < -settings.dead_band:
        action = "SELL"
    if action == "HOLD":
        agreeing = max(counts["UP"], counts["DOWN"])
        side = lean(expected, votes)
        confidence = 0.0 if side == "FLAT" else share[side]
    else:
        direction = "UP" if action == "BUY" else "DOWN"
        confidence, agreeing = share[direction], counts[direction]
    return Signal(
        symbol=symbol,
        timeframe=timeframe,
        as_of=as_of,
        horizon=settings.decision_horizon,
        action=action,
        confidence=round(float(confidence), 6),
        expected_return=expected,
        forecast=[float(v) for v in combined],
        release=release,
        consensus={"required": settings.min_consensus, "agreeing": agreeing, "healthy": len(votes)},
        members=member_votes(members, weights, votes),
    )


@dataclass(frozen=True)
class SignalContext:
    """What the evidence-based decision needs beyond the forecasts, for the last bar.

    ``windows`` ``(1, lookback, channels)``: the return window (interval scale).
    ``gates``: reasons that force a HOLD before any forecast is weighed (ood_input, stale_data).
    """

    windows: np.ndarray
    gates: tuple[str, ...] = ()
    recent: np.ndarray | None = None
    """``(1, H)``: the zero forecast's recent score quantiles (adaptive intervals), or None."""


def decide(
    members: list[MemberForecast],
    settings: EnsembleSettings,
    evidence: Evidence,
    context: SignalContext,
    **where: str,
) -> Signal:
    """The Signal of a release with evidence; ConsensusError below the quorum.

    Combined forecast = the evidence's per-horizon weights over healthy members (unhealthy ones
    add 0). The decision horizon is the verdict's; an entry needs the expected return beyond
    the rule's entry band and at least ``min_consensus`` members on its side (a veto, never a
    trigger). HOLD carries its reason: a gate, no_edge, below_cost, no_consensus or
    straddles_zero.
    """
    healthy_weights(members, settings)
    healthy = {m.family: m.forecast for m in members if m.forecast is not None}
    combined = evidence.combined({f: v[None, :] for f, v in healthy.items()})[0]
    step = settings.decision_horizon - 1
    expected = float(combined[step])
    lower, upper = (
        b[0] for b in evidence.bounds(combined[None, :], context.windows, context.recent)
    )
    votes = {f: vote(float(v[step]), 0.0) for f, v in healthy.items()}
    weight_now = {f: float(evidence.weights.get(f, np.zeros(step + 1))[step]) for f in healthy}
    direction = lean(expected, votes)
    agreeing = sum(v == direction for v in votes.values()) if direction != "FLAT" else 0
    action, reason = _evidence_action(
        evidence, expected, agreeing, settings, lower[step], upper[step], context
    )
    confidence = _weight_share(weight_now, votes, direction)
    return Signal(
        symbol=where["symbol"],
        timeframe=where["timeframe"],
        as_of=where["as_of"],
        horizon=settings.decision_horizon,
        action=action,
        confidence=round(float(confidence), 6),
        expected_return=expected,
        forecast=[float(v) for v in combined],
        release=where["release"],
        consensus={"required": settings.min_consensus, "agreeing": agreeing, "healthy": len(votes)},
        members=member_votes(members, weight_now, votes),
        reason=reason,
        forecast_lower=[float(v) for v in lower],
        forecast_upper=[float(v) for v in upper],
        edge=evidence.edge_summary(),
        decision={} if evidence.rule is None else evidence.rule.to_json(),
    )


def _evidence_action(
    evidence: Evidence,
    expected: float,
    agreeing: int,
    settings: EnsembleSettings,
    lower: float,
    upper: float,
    context: SignalContext,
) -> tuple[Action, str | None]:
    if context.gates:
        return "HOLD", context.gates[0]
    if evidence.rule is None:
        return "HOLD", "no_edge"
    entry = evidence.rule.entry(expected)
    if entry == 0:
        return "HOLD", "below_cost"
    if agreeing < settings.min_consensus:
        return "HOLD", "no_consensus"
    if evidence.straddle_gate and lower < 0 < upper:
        return "HOLD", "straddles_zero"
    return ("BUY" if entry > 0 else "SELL"), None


def lean(expected: float, votes: dict[str, Vote]) -> Vote:
    """The side a signal leans to: the sign of the expected return; when that is exactly 0 (no
    edge: every combination weight 0), the side more members vote; FLAT on a tie or no votes."""
    if expected > 0:
        return "UP"
    if expected < 0:
        return "DOWN"
    up, down = (sum(v == side for v in votes.values()) for side in ("UP", "DOWN"))
    return "UP" if up > down else "DOWN" if down > up else "FLAT"


def _weight_share(weights: dict[str, float], votes: dict[str, Vote], side: Vote) -> float:
    """The confidence: the share of combination weight at the decision horizon on ``side``
    (members whose forecast has its sign). For BUY/SELL that is the action's side; for HOLD the
    side the combination leans to. No weight at all (no edge) or no side: 0, nothing backs a
    direction."""
    total = sum(weights.values())
    if total <= 0 or side == "FLAT":
        return 0.0
    return sum(w for f, w in weights.items() if votes[f] == side) / total


def member_votes(
    members: list[MemberForecast], weights: dict[str, float], votes: dict[str, Vote]
) -> list[MemberVote]:
    """Every member's contribution as it appears in a Signal (unhealthy ones included)."""
    return [
        MemberVote(
            m.family,
            m.version,
            None if m.forecast is None else [float(v) for v in m.forecast],
            weights.get(m.family, 0.0),
            votes.get(m.family),
            m.healthy,
            m.reason,
        )
        for m in members
    ]

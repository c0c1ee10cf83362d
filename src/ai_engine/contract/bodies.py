"""The contract's response bodies (signal, forecast, proposal) as pydantic models: the service
answers with them and ``contract.schemas`` makes the JSON Schema files of docs/schemas/ from
them. They live here, below the service, so that the contract never imports the web layer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ai_engine.contract import SchemaVersion

Action = Literal["BUY", "SELL", "HOLD"]
EssState = Literal["ACTIVE", "REDUCING", "HALTED"]
BundleHash = Annotated[
    str | None,
    Field(description="sha256 of the member bundle's manifest, as the release pins it"),
]
SCHEMA_VERSION_TEXT = "version of this body's JSON Schema (docs/schemas/); bumped when it breaks"
GENERATED_AT_TEXT = "when the service made this body (ISO-8601 UTC)"
VALID_UNTIL_TEXT = (
    "the end of the bar this body is for (ISO-8601 UTC): act on it before then, never after"
)


class Consensus(BaseModel):
    """How many votes the action needed, how many agreed with it, how many members voted."""

    required: int
    agreeing: int
    healthy: int


class MemberVoteOut(BaseModel):
    """One member's forecast, renormalised weight and vote (null while unhealthy)."""

    family: str
    version: str
    forecast: list[float] | None
    weight: float
    vote: Literal["UP", "DOWN", "FLAT"] | None
    healthy: bool
    reason: str | None
    bundle_sha256: BundleHash


class SignalOut(BaseModel):
    """The Signal of DESIGN.md for the last candle."""

    symbol: str
    timeframe: str
    as_of: str
    horizon: int
    action: Action
    confidence: float
    expected_return: float
    forecast: list[float]
    release: str
    consensus: Consensus
    members: list[MemberVoteOut]
    reason: str | None = Field(
        description="why the action is HOLD: no_edge, below_cost, no_consensus, ood_input, "
        "stale_data, straddles_zero; null for BUY and SELL"
    )
    forecast_lower: list[float] = Field(
        description="conformal lower bound per horizon step (empty when the release has none)"
    )
    forecast_upper: list[float] = Field(
        description="conformal upper bound per horizon step (empty when the release has none)"
    )
    edge: dict[str, Any] = Field(
        description="the release's out-of-fold edge verdict: enabled, horizon, method, p_value, "
        "oos_r2 (empty for releases made before it)"
    )
    decision: dict[str, Any] = Field(
        description="the cost-aware position rule: horizon, entry_threshold, exit_threshold, "
        "min_hold_bars, short (empty without an edge, and for releases made before it)"
    )
    schema_version: SchemaVersion = Field(description=SCHEMA_VERSION_TEXT)
    generated_at: str = Field(description=GENERATED_AT_TEXT)
    valid_until: str = Field(description=VALID_UNTIL_TEXT)


class MemberForecastOut(BaseModel):
    """One member's forecast (null while unhealthy) and its renormalised weight."""

    family: str
    version: str
    forecast: list[float] | None
    weight: float
    healthy: bool
    reason: str | None
    bundle_sha256: BundleHash


class ForecastOut(BaseModel):
    """Every member's forecast and the weighted one (weights renormalised over healthy members)."""

    symbol: str
    timeframe: str
    as_of: str
    horizon: int
    release: str
    forecast: list[float]
    members: list[MemberForecastOut]
    schema_version: SchemaVersion = Field(description=SCHEMA_VERSION_TEXT)
    generated_at: str = Field(description=GENERATED_AT_TEXT)
    valid_until: str = Field(description=VALID_UNTIL_TEXT)


class MemberRefOut(BaseModel):
    """A member of the release that made the proposal's signal, and its bundle hash."""

    family: str
    version: str
    bundle_sha256: str | None


class ReservationOut(BaseModel):
    notional: float = Field(description="signed quote amount reserved (positive: buying)")
    valid_until: str


class AdjustmentOut(BaseModel):
    code: str
    before: float
    after: float
    message: str


class ProposalOut(BaseModel):
    """The target position (signed fraction of equity) and every adjustment's reason code."""

    id: int
    owner: str
    at: str
    symbol: str
    timeframe: str
    release: str | None
    action: str | None
    equity: float
    current: float = Field(description="the symbol's booked position, or the one the body gave")
    pending: float = Field(
        description="other live reservations on the symbol (fraction of equity); the delta is "
        "target - current - pending"
    )
    reservation: ReservationOut | None = Field(
        description="what this proposal reserves against the limits until filled, replaced by "
        "its owner's next proposal for the symbol, or valid_until"
    )
    raw_target: float
    target: float
    delta: float
    notional: float
    status: Literal["approved", "clipped", "denied"]
    reasons: list[str]
    adjustments: list[AdjustmentOut]
    ess_state: EssState
    annual_vol: float | None
    horizon: int
    stop_loss_return: float | None
    take_profit_return: float | None
    stop_loss: float | None
    take_profit: float | None
    max_holding_bars: int
    max_holding_until: str | None
    schema_version: SchemaVersion = Field(description=SCHEMA_VERSION_TEXT)
    generated_at: str = Field(description=GENERATED_AT_TEXT)
    valid_until: str = Field(description="the valid_until of the signal it sized")
    members: list[MemberRefOut] = Field(
        description="the signal's members and bundle hashes (empty when the signal had none)"
    )

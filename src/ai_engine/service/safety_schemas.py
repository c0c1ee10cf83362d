"""Request and response bodies of the safety routes (account, fills, risk, ESS, limits, status).

Every number must be finite (NaN and Infinity are 422 naming the field); equity, prices and
quantities must be > 0. See docs/safety.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ai_engine.contract import SchemaVersion
from ai_engine.service.schemas import (
    GENERATED_AT_TEXT,
    HARD_MAX_CANDLES,
    SCHEMA_VERSION_TEXT,
    CandleColumns,
    CandleRow,
    Name,
    Symbol,
    Timeframe,
)

# Request numbers are strict: a JSON number only (int or float), never true/false or "1.5",
# which pydantic's lax mode would turn into 1.0 and 1.5.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
Fraction = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False, strict=True)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Actor = Annotated[str, Field(min_length=1, max_length=128)]
EssState = Literal["ACTIVE", "REDUCING", "HALTED"]
Bound = Annotated[list[FiniteFloat], Field(max_length=1000)]


class AccountIn(BaseModel):
    """The bot's account equity now (quote currency)."""

    model_config = ConfigDict(extra="forbid")
    equity: Positive


class FillIn(BaseModel):
    """One fill; ``position_id`` (optional) must name an open position of the same symbol."""

    model_config = ConfigDict(extra="forbid")
    symbol: Symbol
    side: Literal["BUY", "SELL"]
    quantity: Positive
    price: Positive
    fee: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    position_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    owner: Name | None = Field(
        default=None,
        description="the client the position belongs to (default: the proposal's or the "
        "position's owner, else engine); EXTERNAL for trades no proposal asked for",
    )
    proposal_id: Annotated[int, Field(ge=1, strict=True)] | None = Field(
        default=None, description="the proposal this fill executes: its owner and exits apply"
    )


class MemberRefIn(BaseModel):
    """A signal member as far as a proposal carries it."""

    model_config = ConfigDict(extra="ignore")
    family: Annotated[str, Field(max_length=64)]
    version: Annotated[str, Field(max_length=64)]
    bundle_sha256: Annotated[str, Field(max_length=64)] | None = None


class MemberRefOut(BaseModel):
    """A member of the release that made the proposal's signal, and its bundle hash."""

    family: str
    version: str
    bundle_sha256: str | None


class SignalIn(BaseModel):
    """A signal already made (the answer of /v1/signal); members and consensus are optional."""

    model_config = ConfigDict(extra="ignore")
    symbol: Symbol
    timeframe: Timeframe
    as_of: Annotated[str, Field(max_length=40)] = ""
    horizon: Annotated[int, Field(ge=1, le=1000)]
    action: Literal["BUY", "SELL", "HOLD"]
    confidence: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    expected_return: FiniteFloat = 0.0
    forecast: Bound = []
    forecast_lower: Bound = []
    forecast_upper: Bound = []
    release: Annotated[str, Field(max_length=128)] = ""
    reason: Annotated[str, Field(max_length=64)] | None = None
    edge: dict[str, Any] = {}
    decision: dict[str, Any] = {}
    valid_until: Annotated[str, Field(max_length=40)] = ""
    members: Annotated[list[MemberRefIn], Field(max_length=64)] = []


class ProposalIn(BaseModel):
    """Flat: the symbol, the candles (as for /v1/signal) or a signal, the equity, the position.

    Give exactly one of ``candles``, ``columns`` and ``signal``. ``position`` is the current
    signed fraction of equity (default: from the state store's positions); ``price`` marks the
    positions and turns the stop-loss / take-profit returns into prices (default: last close).
    """

    model_config = ConfigDict(extra="forbid")
    symbol: Symbol
    timeframe: Timeframe
    candles: list[CandleRow] | None = Field(
        default=None,
        max_length=HARD_MAX_CANDLES,
        description="rows {t,o,h,l,c,v}, oldest first; at most the service's max_candles",
    )
    columns: CandleColumns | None = None
    signal: SignalIn | None = None
    equity: Positive
    position: Fraction | None = None
    price: Positive | None = None
    owner: Name | None = Field(
        default=None,
        description="the client asking (e.g. a strategy id); it owns the position this opens. "
        "Default: the trader key's owner (the admin key: engine); a trader key naming another "
        "owner is a 403",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ProposalIn:
        given = [n for n in ("candles", "columns", "signal") if getattr(self, n) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "proposal_source",
                "give exactly one of 'candles', 'columns' or 'signal', found {given}",
                {"given": str(given)},
            )
        return self


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
    current: float
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


class SnapshotOut(BaseModel):
    at: str
    equity: float
    hwm: float
    drawdown: float
    source: str


class PositionOut(BaseModel):
    id: str
    owner: str
    symbol: str
    quantity: float
    avg_price: float
    last_price: float
    fraction: float | None
    realized_pnl: float
    opened_at: str
    closed_at: str | None
    proposal_id: int | None = Field(description="the proposal that opened it, if any")
    stop_loss: float | None = Field(description="price at which its owner is told to exit")
    max_holding_until: str | None = Field(description="time after which its owner is told to exit")


class AccountOut(BaseModel):
    """The latest equity snapshot, the open positions and the newest points of the curve."""

    snapshot: SnapshotOut | None
    positions: list[PositionOut]
    curve: list[SnapshotOut]


class FillRecordOut(BaseModel):
    id: int
    at: str
    position_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    realized_pnl: float


class FillOut(BaseModel):
    position: PositionOut
    realized_pnl: float
    account: AccountOut


class FillsOut(BaseModel):
    fills: list[FillRecordOut]


ACTOR_TEXT = (
    "ignored (kept so older clients are not refused): the stored actor is the key's identity, "
    "admin"
)


class EssTripIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    state: Literal["HALTED", "REDUCING"] = "HALTED"
    actor: Actor | None = Field(default=None, description=ACTOR_TEXT)


class EssResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    actor: Actor | None = Field(default=None, description=ACTOR_TEXT)


class TransitionOut(BaseModel):
    at: str
    from_state: EssState | None
    to_state: EssState
    trigger: str
    reason: str
    actor: str


class EssOut(BaseModel):
    """The emergency stop: state, since when, why, by whom, and the newest transitions."""

    state: EssState
    since: str
    reason: str
    actor: str
    trigger: str
    reset_at: str
    transitions: list[TransitionOut] = []


class SizingConfigOut(BaseModel):
    """[sizing]: volatility targeting from the forecast interval (docs/safety.md)."""

    target_annual_vol: float
    max_leverage: float
    interval_coverage: float
    days_per_year: float
    allow_short: bool


class LimitsConfigOut(BaseModel):
    """[limits]: portfolio governance (docs/safety.md)."""

    symbols: list[str]
    max_position: float
    max_gross: float
    max_net: float
    max_open_positions: int
    max_changes_per_minute: int
    min_notional: float
    max_notional: float


class EssConfigOut(BaseModel):
    """[ess]: the state at first start and the automatic triggers (docs/safety.md)."""

    initial_state: str
    max_drawdown: float
    losing_trades: int
    losing_window_s: float
    quorum_lost_s: float
    stale_candles_s: float
    check_interval_s: float


class LimitsOut(BaseModel):
    """The configured sizing, governance limits and ESS triggers."""

    sizing: SizingConfigOut
    limits: LimitsConfigOut
    ess: EssConfigOut


class FreshnessOut(BaseModel):
    symbol: str
    timeframe: str
    last_candle_at: str
    received_at: str
    age_s: float
    stale: bool


class ReleaseStatusOut(BaseModel):
    release: str | None
    ready: bool
    reason: str
    edge: dict[str, Any] | None


class StatusOut(BaseModel):
    """Why something trades or not, in one call."""

    trading: bool
    why: list[str]
    ess: EssOut
    release: ReleaseStatusOut
    freshness: list[FreshnessOut]

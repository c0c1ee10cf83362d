"""Request and response bodies of the safety routes (account, fills, risk, ESS, limits, status).

Every number must be finite (NaN and Infinity are 422 naming the field); equity, prices and
quantities must be > 0. See docs/safety.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ai_engine.contract.bodies import AdjustmentOut as AdjustmentOut
from ai_engine.contract.bodies import EssState as EssState
from ai_engine.contract.bodies import MemberRefOut as MemberRefOut
from ai_engine.contract.bodies import ProposalOut as ProposalOut
from ai_engine.contract.bodies import ReservationOut as ReservationOut
from ai_engine.safety.inputs import MAX_AMOUNT, MIN_EQUITY
from ai_engine.safety.keys import OWNER
from ai_engine.service.schemas import (
    HARD_MAX_CANDLES,
    CandleColumns,
    CandleRow,
    Symbol,
    Timeframe,
)

# Request numbers are strict: a JSON number only (int or float), never true/false or "1.5",
# which pydantic's lax mode would turn into 1.0 and 1.5. Amounts are bounded (|x| <= 1e15,
# safety/inputs.py MAX_AMOUNT) so that every sum a book makes of them stays finite.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, strict=True)]
Equity = Annotated[float, Field(ge=MIN_EQUITY, le=MAX_AMOUNT, allow_inf_nan=False, strict=True)]
Fee = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False, strict=True)]
Owner = Annotated[str, Field(pattern=f"^{OWNER.pattern}$")]
"""A client id that owns positions: what the state store's owner columns hold."""
FillId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]
Fraction = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False, strict=True)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Actor = Annotated[str, Field(min_length=1, max_length=128)]
Bound = Annotated[list[FiniteFloat], Field(max_length=1000)]


class AccountIn(BaseModel):
    """The bot's account equity now (quote currency)."""

    model_config = ConfigDict(extra="forbid")
    equity: Equity


class FillIn(BaseModel):
    """One fill; ``position_id`` (optional) must name an open position of the same symbol."""

    model_config = ConfigDict(extra="forbid")
    symbol: Symbol
    side: Literal["BUY", "SELL"]
    quantity: Positive
    price: Positive
    fee: Fee = 0.0
    position_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    owner: Owner | None = Field(
        default=None,
        description="the client the position belongs to (default: the proposal's or the "
        "position's owner, else engine); EXTERNAL for trades no proposal asked for",
    )
    proposal_id: Annotated[int, Field(ge=1, le=2**53, strict=True)] | None = Field(
        default=None, description="the proposal this fill executes: its owner and exits apply"
    )
    fill_id: FillId | None = Field(
        default=None,
        description="the client's id of this fill (e.g. its exchange order or trade id), unique "
        "per owner: a retry with the same id returns the first answer and books nothing new",
    )


class MemberRefIn(BaseModel):
    """A signal member as far as a proposal carries it."""

    model_config = ConfigDict(extra="ignore")
    family: Annotated[str, Field(max_length=64)]
    version: Annotated[str, Field(max_length=64)]
    bundle_sha256: Annotated[str, Field(max_length=64)] | None = None


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
    equity: Equity
    position: Fraction | None = None
    price: Positive | None = None
    owner: Owner | None = Field(
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


class LiveReservationOut(ReservationOut):
    proposal_id: int
    owner: str
    symbol: str
    at: str


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
    owner: str | None = None
    fill_id: str | None = None


class FillOut(BaseModel):
    """The fill as booked; a retried ``fill_id`` gets this same answer again."""

    position: PositionOut
    realized_pnl: float
    account: AccountOut
    fill_id: str | None = None
    reasons: list[str] = Field(
        default=[], description="LIMIT_BREACHED when the booked book is past a limit (ESS REDUCING)"
    )
    breaches: list[str] = Field(
        default=[], description="each limit the book is past, and by how much"
    )


class FillsOut(BaseModel):
    fills: list[FillRecordOut]


ACTOR_TEXT = (
    "ignored (kept so older clients are not refused): the stored actor is the key's identity, admin"
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
    reservation_max_s: float


class EssConfigOut(BaseModel):
    """[ess]: the state at first start and the automatic triggers (docs/safety.md)."""

    initial_state: str
    max_drawdown: float
    losing_trades: int
    losing_window_s: float
    quorum_lost_s: float
    stale_candles_s: float
    stale_bars: float
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
    stale_after_s: float
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
    breaches: list[str] = Field(description="limits the booked positions are past now")
    reservations: list[LiveReservationOut] = Field(
        description="live reservations of approved proposals (newest first, at most 100)"
    )

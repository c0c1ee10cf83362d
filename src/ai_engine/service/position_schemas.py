"""Bodies of the position routes: the bot's position report, claims, exits by owner."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ai_engine.safety.inputs import MAX_AMOUNT
from ai_engine.service.safety_schemas import Owner, PositionOut, Positive
from ai_engine.service.schemas import Symbol

DifferenceKind = Literal[
    "unknown_position", "missing_from_report", "quantity_differs", "owner_differs", "ambiguous"
]


class ReportedPositionIn(BaseModel):
    """One position the bot holds now: signed quantity (negative: short) and its price."""

    model_config = ConfigDict(extra="forbid")
    symbol: Symbol
    quantity: Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    ]
    price: Positive
    owner: Owner | None = Field(default=None, description="the owner the bot believes in")
    position_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class PositionReportIn(BaseModel):
    """Every position the bot holds now; stored ones it does not list are closed."""

    model_config = ConfigDict(extra="forbid")
    positions: Annotated[list[ReportedPositionIn], Field(max_length=1000)]


class DifferenceOut(BaseModel):
    """One difference between the stored positions and a report, and what was done."""

    kind: DifferenceKind
    position_id: str | None
    symbol: str
    owner: str | None
    stored: float
    reported: float
    price: float | None = None
    reported_owner: str | None = None
    action: str | None = Field(default=None, description="what the report changed (reports)")
    report_at: str | None = Field(default=None, description="the report compared (at start)")


class ReportSummaryOut(BaseModel):
    at: str
    count: int


class PositionsOut(BaseModel):
    """Open positions by owner; EXTERNAL ones (no proposal opened them) apart."""

    positions: list[PositionOut]
    external: list[PositionOut]
    last_report: ReportSummaryOut | None
    at_start: list[DifferenceOut] = Field(
        description="differences between the store and the last report when the service started"
    )


class PositionReportOut(PositionsOut):
    differences: list[DifferenceOut]


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: Owner


class ExitOut(BaseModel):
    """An exit proposed to a position's owner: close ``quantity`` with ``side``."""

    position_id: str
    owner: str
    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: float
    reason: Literal["stop_loss", "max_holding"]
    reasons: list[Literal["stop_loss", "max_holding"]]
    last_price: float
    stop_loss: float | None
    max_holding_until: str | None
    opened_at: str
    proposal_id: int | None


class ExitsOut(BaseModel):
    owner: str
    at: str
    exits: list[ExitOut]

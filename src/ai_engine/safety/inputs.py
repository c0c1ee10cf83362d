"""The desk's input checks and the small pure helpers it shares (bounds, times, exits)."""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from ai_engine.contract import parse_time
from ai_engine.errors import IdempotencyConflict, SafetyInputError
from ai_engine.safety import ess, ledger

MAX_AMOUNT = 1e15
"""Largest quantity, price, fee or equity a book accepts (a bound keeps every sum finite)."""
MIN_EQUITY = 1e-6
"""Smallest equity: fractions of equity stay finite for any bounded notional."""
RESERVATION_MIN_S = 60.0
"""Shortest reservation: a proposal sized from a signal that expires sooner (a replay, a slow
bot) still holds its room while the bot acts on it."""


def exits_of(sizing: Any, target: float, price: float | None, now: float) -> dict[str, Any]:
    active = abs(target) > 0
    stop = sizing.stop_loss_return if active else None
    take = sizing.take_profit_return if active else None
    return {
        "horizon": sizing.horizon,
        "stop_loss_return": stop,
        "take_profit_return": take,
        "stop_loss": None if stop is None or price is None else price * math.exp(stop),
        "take_profit": None if take is None or price is None else price * math.exp(take),
        "max_holding_bars": sizing.max_holding_bars,
        "max_holding_until": ess.iso(now + sizing.max_holding_s) if active else None,
    }


def epoch(value: Any) -> float | None:
    """An ISO-8601 time (contract.parse_time) as epoch seconds; None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value).timestamp()
    except ValueError:
        return None


def positive(name: str, value: float, low: float = 0.0) -> None:
    if isinstance(value, bool) or not (math.isfinite(value) and low < value <= MAX_AMOUNT):
        bound = "> 0" if low == 0 else f">= {low:g}"
        raise SafetyInputError(
            ["body", name],
            f"{name}: expected a finite number {bound} and <= {MAX_AMOUNT:g}, found {value}",
        )


def booked(conn: sa.Connection, equity: float) -> dict[str, float]:
    """Every open position summed per symbol, as a signed fraction of ``equity``."""
    book: dict[str, float] = {}
    for row in ledger.open_positions(conn):
        book[row.symbol] = book.get(row.symbol, 0.0) + row.quantity * row.last_price / equity
    return book


def replayed(first: sa.Row[Any], fill: ledger.FillInput) -> dict[str, Any]:
    """The first answer to a retried ``fill_id``; a retry that differs is a conflict."""
    same = (first.symbol, first.side, first.quantity, first.price, first.fee) == (
        fill.symbol,
        fill.side,
        fill.quantity,
        fill.price,
        fill.fee,
    )
    if not same:
        raise IdempotencyConflict(
            f"fill_id {fill.fill_id!r} was booked as {first.side} {first.quantity:g} "
            f"{first.symbol} @ {first.price:g} (fee {first.fee:g}); the retry says {fill.side} "
            f"{fill.quantity:g} {fill.symbol} @ {fill.price:g} (fee {fill.fee:g})"
        )
    return dict(first.response or {})


def text(name: str, value: str) -> None:
    if not value or not value.strip() or len(value) > 1000:
        raise SafetyInputError(
            ["body", name], f"{name}: expected 1 to 1000 characters of text, found {value!r}"
        )

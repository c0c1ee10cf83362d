"""A risk proposal in four steps, each its own function: ``validate`` (the desk), ``size``
(sizing.py), ``govern`` (read the book with its reservations, apply the limits and the ESS)
and ``record`` (the audit row with its reservation, freshness and marks), then ``answer``.

``read_book`` and ``record`` run in the one write transaction the desk opens, so the limits
are checked against every live reservation of every replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ai_engine.safety import ess, ledger, monitor, reservations
from ai_engine.safety import tables as t
from ai_engine.safety.config import LimitsConfig
from ai_engine.safety.governance import Adjustment, Book, ess_gate, govern, is_adding, status_of
from ai_engine.safety.inputs import booked, exits_of
from ai_engine.safety.sizing import Sizing


@dataclass(frozen=True)
class ProposalInput:
    """A proposal's inputs besides the signal."""

    symbol: str
    timeframe: str
    equity: float
    position: float | None = None
    price: float | None = None
    """The client's price: turns the exit returns into prices for this proposal only."""
    owner: str = ledger.DEFAULT_OWNER
    """The client asking (e.g. a strategy id): it owns the position the proposal opens."""
    mark: float | None = None
    """The last close of candles the service itself validated: marks the symbol's positions.
    A client's ``price`` never marks anything."""


@dataclass(frozen=True)
class BookView:
    """What governance sees for one proposal, as signed fractions of its equity."""

    position: float
    """The symbol's booked position (or the one the request gave)."""
    stored: float
    pending: float
    """Other owners' live reservations on the symbol."""
    others: dict[str, float]
    """Every other symbol: booked plus reserved."""
    changes_last_minute: int


@dataclass(frozen=True)
class Decision:
    """The governed target and what it reserves."""

    current: float
    target: float
    adjustments: list[Adjustment]
    status: str
    adding: bool
    reserved: float
    """Quote notional this proposal reserves (signed; 0: none)."""


def read_book(conn: sa.Connection, request: ProposalInput, now: float) -> BookView:
    """The book for ``request`` after releasing its owner's previous reservation on the symbol."""
    reservations.release(conn, request.owner, request.symbol, now, "replaced")
    others = booked(conn, request.equity)
    stored = others.pop(request.symbol, 0.0)
    pending = 0.0
    for symbol, notional in reservations.by_symbol(conn, now).items():
        if symbol == request.symbol:
            pending = notional / request.equity
        else:
            others[symbol] = others.get(symbol, 0.0) + notional / request.equity
    changes = conn.execute(
        sa.select(sa.func.count())
        .select_from(t.proposals)
        .where(t.proposals.c.at >= now - 60.0, t.proposals.c.adding.is_(True))
    ).scalar_one()
    position = stored if request.position is None else request.position
    return BookView(position, stored, pending, others, int(changes))


def decide(
    sizing: Sizing, view: BookView, equity: float, limits: LimitsConfig, ess_state: str
) -> Decision:
    """The limits, then the emergency stop, over the sized target (pure)."""
    current = view.position + view.pending
    book = Book(current, view.others, equity, view.changes_last_minute)
    target, steps = govern(sizing.target, book, limits)
    target, gate = ess_gate(target, current, ess_state)
    adding = is_adding(target, current)
    status = status_of(sizing.target, target, current)
    reserved = (target - current) * equity if adding and status != "denied" else 0.0
    adjustments = [*sizing.adjustments, *steps, *([gate] if gate else [])]
    return Decision(current, target, adjustments, status, adding, reserved)


@dataclass(frozen=True)
class Context:
    """When the proposal was made and for how long it reserves."""

    now: float
    valid_until: float
    ess_state: str
    account_equity: float | None


def record(
    conn: sa.Connection,
    request: ProposalInput,
    signal: dict[str, Any],
    sizing: Sizing,
    view: BookView,
    decision: Decision,
    context: Context,
    as_of: float | None,
) -> tuple[int, dict[str, Any]]:
    """Write the audit row (with its reservation), note freshness and the trusted mark;
    (proposal id, its exits)."""
    now = context.now
    exits = exits_of(sizing, decision.target, request.price, now)
    inputs = {
        "symbol": request.symbol,
        "timeframe": request.timeframe,
        "equity": request.equity,
        "position": request.position,
        "stored_position": view.stored,
        "pending": view.pending,
        "price": request.price,
        "account_equity": context.account_equity,
    }
    proposal_id: int = conn.execute(
        sa.insert(t.proposals)
        .values(
            at=now,
            symbol=request.symbol,
            timeframe=request.timeframe,
            release=str(signal.get("release", "")),
            equity=request.equity,
            current=decision.current,
            raw_target=sizing.target,
            target=decision.target,
            status=decision.status,
            adding=decision.adding,
            ess_state=context.ess_state,
            inputs=inputs,
            signal=signal,
            adjustments=[a.to_json() for a in decision.adjustments],
            owner=request.owner,
            exits={**exits, "max_holding_s": sizing.max_holding_s},
            reserved_notional=decision.reserved,
            valid_until=context.valid_until,
        )
        .returning(t.proposals.c.id)
    ).scalar_one()
    if as_of is not None:
        monitor.seen(conn, request.symbol, request.timeframe, as_of, now)
    if request.mark is not None:
        ledger.mark(conn, request.symbol, request.mark, now)
    return int(proposal_id), exits


def answer(
    proposal_id: int,
    request: ProposalInput,
    signal: dict[str, Any],
    sizing: Sizing,
    view: BookView,
    decision: Decision,
    context: Context,
    exits: dict[str, Any],
) -> dict[str, Any]:
    """The proposal as the API answers it (without the contract stamps)."""
    delta = decision.target - decision.current
    reservation = (
        {"notional": decision.reserved, "valid_until": ess.iso(context.valid_until)}
        if decision.reserved
        else None
    )
    return {
        "id": proposal_id,
        "owner": request.owner,
        "at": ess.iso(context.now),
        "symbol": request.symbol,
        "timeframe": request.timeframe,
        "release": signal.get("release"),
        "action": signal.get("action"),
        "equity": request.equity,
        "current": view.position,
        "pending": view.pending,
        "reservation": reservation,
        "raw_target": sizing.target,
        "target": decision.target,
        "delta": delta,
        "notional": delta * request.equity,
        "status": decision.status,
        "reasons": [a.code for a in decision.adjustments],
        "adjustments": [a.to_json() for a in decision.adjustments],
        "ess_state": context.ess_state,
        "annual_vol": sizing.annual_vol,
        **exits,
    }

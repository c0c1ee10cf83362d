"""Account snapshots (equity curve, high-water mark), positions and fills, in a caller's
transaction.

A position is one (owner, symbol) from its first fill until its quantity is back to 0; then it
is closed and its realised P&L (fees included) is the result of that trade. A fill that closes
part of a position realises ``closed quantity x (price - average entry)`` on the position's side.
When the account has a snapshot, each fill's realised P&L (less its fee) moves the equity.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

from ai_engine.errors import SafetyInputError
from ai_engine.safety import ownership
from ai_engine.safety import tables as t
from ai_engine.safety.ess import iso

DEFAULT_OWNER = ownership.DEFAULT_OWNER
QTY_EPS = 1e-12


@dataclass(frozen=True)
class Snapshot:
    """One point of the equity curve."""

    at: float
    equity: float
    hwm: float
    drawdown: float
    source: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


@dataclass(frozen=True)
class FillInput:
    """A fill as the bot reports it (validated by ``check``)."""

    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: float
    price: float
    fee: float = 0.0
    position_id: str | None = None
    owner: str | None = None
    """The client the position belongs to; None: the named proposal's or position's owner,
    else DEFAULT_OWNER. Another owner than the position's is an OwnershipConflict."""
    proposal_id: int | None = None
    """The proposal this fill executes: the position it opens takes its owner and exits."""
    fill_id: str | None = None
    """The client's id of this fill (unique per owner): a retry with it books nothing new."""


def latest_snapshot(conn: sa.Connection) -> Snapshot | None:
    row = conn.execute(sa.select(t.account).order_by(t.account.c.id.desc()).limit(1)).first()
    return None if row is None else Snapshot(row.at, row.equity, row.hwm, row.drawdown, row.source)


def add_snapshot(
    conn: sa.Connection, equity: float, source: str, now: float, rebase: bool = False
) -> Snapshot:
    """Append ``equity`` to the curve; the high-water mark restarts from it when ``rebase``."""
    previous = latest_snapshot(conn)
    hwm = equity if rebase or previous is None else max(previous.hwm, equity)
    drawdown = 0.0 if hwm <= 0 else max(0.0, 1.0 - equity / hwm)
    snapshot = Snapshot(now, equity, hwm, drawdown, source)
    conn.execute(sa.insert(t.account).values(**asdict(snapshot)))
    return snapshot


def equity_curve(conn: sa.Connection, limit: int) -> list[Snapshot]:
    rows = conn.execute(sa.select(t.account).order_by(t.account.c.id.desc()).limit(limit))
    return [Snapshot(r.at, r.equity, r.hwm, r.drawdown, r.source) for r in rows]


def open_positions(conn: sa.Connection) -> list[sa.Row[Any]]:
    query = sa.select(t.positions).where(t.positions.c.closed_at.is_(None))
    return list(conn.execute(query.order_by(t.positions.c.opened_at)))


def position_json(row: sa.Row[Any], equity: float | None) -> dict[str, Any]:
    """A position with its signed fraction of ``equity`` (None without an account)."""
    fraction = None if not equity else row.quantity * row.last_price / equity
    return {
        "id": row.id,
        "owner": row.owner,
        "symbol": row.symbol,
        "quantity": row.quantity,
        "avg_price": row.avg_price,
        "last_price": row.last_price,
        "fraction": fraction,
        "realized_pnl": row.realized_pnl,
        "opened_at": iso(row.opened_at),
        "closed_at": iso(row.closed_at),
        "proposal_id": row.proposal_id,
        "stop_loss": row.stop_loss,
        "max_holding_until": iso(row.max_holding_until),
    }


def apply_fill(conn: sa.Connection, fill: FillInput, now: float) -> tuple[sa.Row[Any], float]:
    """Book ``fill`` on its position (opening one when none is open); (position, realised P&L).

    A ``position_id`` must name an open position of the same symbol (else SafetyInputError).
    """
    c = t.positions.c
    owner, proposal = ownership.fill_owner(conn, fill.symbol, fill.owner, fill.proposal_id)
    if fill.position_id is not None:
        row = conn.execute(sa.select(t.positions).where(c.id == fill.position_id)).first()
        if row is None:
            raise SafetyInputError(
                ["body", "position_id"],
                f"position_id: no position {fill.position_id!r} exists in the state store",
            )
        if row.closed_at is not None:
            raise SafetyInputError(
                ["body", "position_id"],
                f"position_id: position {fill.position_id!r} was closed at {iso(row.closed_at)}",
            )
        if row.symbol != fill.symbol:
            raise SafetyInputError(
                ["body", "symbol"],
                f"symbol: position {row.id!r} is {row.symbol!r}, the fill says {fill.symbol!r}",
            )
        ownership.check_claim(row, owner if fill.owner or proposal is not None else None)
    else:
        row = conn.execute(
            sa.select(t.positions).where(
                c.owner == owner, c.symbol == fill.symbol, c.closed_at.is_(None)
            )
        ).first()
    signed = fill.quantity if fill.side == "BUY" else -fill.quantity
    if row is None:
        position_id = uuid.uuid4().hex
        conn.execute(
            sa.insert(t.positions).values(
                id=position_id,
                owner=owner,
                symbol=fill.symbol,
                quantity=signed,
                avg_price=fill.price,
                last_price=fill.price,
                realized_pnl=-fill.fee,
                opened_at=now,
                updated_at=now,
                closed_at=None,
                **ownership.opening_levels(
                    conn, owner, fill.symbol, signed, fill.price, now, proposal
                ),
            )
        )
        pnl = 0.0
    else:
        position_id = row.id
        quantity, avg, pnl = row.quantity, row.avg_price, 0.0
        if quantity * signed >= 0:  # adding on the same side
            avg = (abs(quantity) * avg + fill.quantity * fill.price) / (
                abs(quantity) + fill.quantity
            )
        else:  # reducing, closing or flipping
            closing = min(fill.quantity, abs(quantity))
            pnl = closing * (fill.price - avg) * (1.0 if quantity > 0 else -1.0)
            if fill.quantity > abs(quantity) + QTY_EPS:
                avg = fill.price  # flipped: the remainder opened at this price
        quantity += signed
        closed = abs(quantity) <= QTY_EPS * max(1.0, fill.quantity)
        conn.execute(
            sa.update(t.positions)
            .where(c.id == position_id)
            .values(
                quantity=0.0 if closed else quantity,
                avg_price=avg,
                last_price=fill.price,
                realized_pnl=row.realized_pnl + pnl - fill.fee,
                updated_at=now,
                closed_at=now if closed else None,
            )
        )
    conn.execute(
        sa.insert(t.fills).values(
            at=now,
            position_id=position_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            realized_pnl=pnl,
            owner=owner,
            fill_id=fill.fill_id,
        )
    )
    position = conn.execute(sa.select(t.positions).where(c.id == position_id)).one()
    return position, pnl


def recent_fills(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    c = t.fills.c
    columns = [col for col in t.fills.c if col.name != "response"]
    rows = conn.execute(sa.select(*columns).order_by(c.id.desc()).limit(limit))
    return [{**r._asdict(), "at": iso(r.at)} for r in rows]


def fill_by_id(conn: sa.Connection, owner: str, fill_id: str) -> sa.Row[Any] | None:
    """The fill ``owner`` booked under ``fill_id``, if any."""
    c = t.fills.c
    return conn.execute(sa.select(t.fills).where(c.owner == owner, c.fill_id == fill_id)).first()


def remember_answer(conn: sa.Connection, owner: str, fill_id: str, answer: dict[str, Any]) -> None:
    """Keep the answer to the fill ``fill_id`` so that a retry gets the same one."""
    c = t.fills.c
    conn.execute(
        sa.update(t.fills).where(c.owner == owner, c.fill_id == fill_id).values(response=answer)
    )


def losing_streak(conn: sa.Connection, since: float) -> int:
    """Consecutive losing trades (closed positions, newest first) closed after ``since``."""
    c = t.positions.c
    rows = conn.execute(
        sa.select(c.realized_pnl)
        .where(c.closed_at.is_not(None), c.closed_at >= since)
        .order_by(c.closed_at.desc())
    )
    streak = 0
    for row in rows:
        if float(row.realized_pnl) >= 0:
            break
        streak += 1
    return streak


def mark(conn: sa.Connection, symbol: str, price: float, now: float) -> None:
    """Mark the open positions of ``symbol`` at ``price`` (the last close seen)."""
    c = t.positions.c
    conn.execute(
        sa.update(t.positions)
        .where(c.symbol == symbol, c.closed_at.is_(None))
        .values(last_price=price, updated_at=now)
    )


def recent_proposals(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest proposals, newest first: who asked, the outcome and every reason."""
    rows = conn.execute(sa.select(t.proposals).order_by(t.proposals.c.id.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "at": iso(r.at),
            "owner": r.owner,
            "symbol": r.symbol,
            "action": (r.signal or {}).get("action"),
            "status": r.status,
            "target": r.target,
            "ess_state": r.ess_state,
            "adjustments": list(r.adjustments or []),
        }
        for r in rows
    ]

"""Reservations: an approved or clipped proposal that adds exposure holds its change against
every limit until it is filled, replaced or expires.

A reservation is stored on its proposal row as a signed quote notional (``reserved_notional``,
positive for buying) with the proposal's ``valid_until``. It is live while ``released_at`` is
empty and ``valid_until`` is in the future. It is released when the same owner proposes again
for the symbol (``replaced``) or when the owner's fills on the symbol use it up (``filled``).
Every function runs in the caller's write transaction, the one that checks the limits, so
concurrent proposals on any number of replicas see each other's reservations.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from ai_engine.safety import tables as t
from ai_engine.safety.ess import iso

EPS = 1e-9


def _live(now: float) -> Any:
    c = t.proposals.c
    return sa.and_(
        c.released_at.is_(None),
        c.reserved_notional.is_not(None),
        c.reserved_notional != 0.0,
        c.valid_until > now,
    )


def by_symbol(conn: sa.Connection, now: float) -> dict[str, float]:
    """Live reserved notional per symbol (signed, quote currency)."""
    c = t.proposals.c
    rows = conn.execute(
        sa.select(c.symbol, sa.func.sum(c.reserved_notional)).where(_live(now)).group_by(c.symbol)
    )
    return {str(row.symbol): float(row[1]) for row in rows}


def release(conn: sa.Connection, owner: str, symbol: str, now: float, why: str) -> None:
    """Release every live reservation of ``owner`` on ``symbol``."""
    c = t.proposals.c
    conn.execute(
        sa.update(t.proposals)
        .where(_live(now), c.owner == owner, c.symbol == symbol)
        .values(released_at=now, released_by=why)
    )


def use(conn: sa.Connection, owner: str, symbol: str, notional: float, now: float) -> None:
    """A fill of ``notional`` (signed: positive for a buy) by ``owner`` uses up their
    reservations on ``symbol`` in that direction, oldest first; a fill the other way
    releases them (the owner changed course)."""
    c = t.proposals.c
    rows = conn.execute(
        sa.select(c.id, c.reserved_notional)
        .where(_live(now), c.owner == owner, c.symbol == symbol)
        .order_by(c.id)
    ).all()
    left = notional
    for row in rows:
        proposal_id, reserved = int(row.id), float(row.reserved_notional)
        if reserved * notional < 0:  # the owner changed course: the room is not needed
            _release(conn, proposal_id, now, "reversed")
        elif abs(left) > EPS:
            taken = min(abs(left), abs(reserved))
            left -= math.copysign(taken, left)
            remaining = reserved - math.copysign(taken, reserved)
            if abs(remaining) < EPS:
                _release(conn, proposal_id, now, "filled")
            else:
                conn.execute(
                    sa.update(t.proposals)
                    .where(t.proposals.c.id == proposal_id)
                    .values(reserved_notional=remaining)
                )


def _release(conn: sa.Connection, proposal_id: int, now: float, why: str) -> None:
    conn.execute(
        sa.update(t.proposals)
        .where(t.proposals.c.id == proposal_id)
        .values(released_at=now, released_by=why)
    )


def live(conn: sa.Connection, now: float, limit: int = 100) -> list[dict[str, Any]]:
    """The live reservations, newest first, for /v1/status and /ui."""
    c = t.proposals.c
    rows = conn.execute(
        sa.select(c.id, c.owner, c.symbol, c.reserved_notional, c.valid_until, c.at)
        .where(_live(now))
        .order_by(c.id.desc())
        .limit(limit)
    )
    return [
        {
            "proposal_id": int(r.id),
            "owner": r.owner,
            "symbol": r.symbol,
            "notional": float(r.reserved_notional),
            "at": iso(r.at),
            "valid_until": iso(r.valid_until),
        }
        for r in rows
    ]

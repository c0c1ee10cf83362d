"""Data freshness per symbol and the triggers the service checks periodically.

"Fresh" means a candle newer than the last one seen for the symbol arrived (with a proposal);
a symbol whose candles stopped arriving for ``ess.stale_candles_s`` trips REDUCING, and so
does a served release below the consensus quorum for ``ess.quorum_lost_s``. Both windows start
again at a reset, so a reset is not undone by the same old fault the next second.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ai_engine.safety import tables as t
from ai_engine.safety.config import EssConfig
from ai_engine.safety.ess import EssStatus, iso


def seen(conn: sa.Connection, symbol: str, timeframe: str, as_of: float, now: float) -> None:
    """Note the newest candle of ``symbol`` (``as_of``); it is fresh when newer than before."""
    c = t.freshness.c
    row = conn.execute(sa.select(t.freshness).where(c.symbol == symbol)).first()
    if row is None:
        conn.execute(
            sa.insert(t.freshness).values(
                symbol=symbol, timeframe=timeframe, last_candle_at=as_of, received_at=now
            )
        )
    elif as_of > row.last_candle_at:
        conn.execute(
            sa.update(t.freshness)
            .where(c.symbol == symbol)
            .values(timeframe=timeframe, last_candle_at=as_of, received_at=now)
        )


def freshness(conn: sa.Connection, now: float, limit_s: float) -> list[dict[str, Any]]:
    """Per symbol: the newest candle seen, when it arrived, and whether it is stale."""
    rows = conn.execute(sa.select(t.freshness).order_by(t.freshness.c.symbol))
    return [
        {
            "symbol": r.symbol,
            "timeframe": r.timeframe,
            "last_candle_at": iso(r.last_candle_at),
            "received_at": iso(r.received_at),
            "age_s": round(now - r.received_at, 3),
            "stale": limit_s > 0 and now - r.received_at > limit_s,
        }
        for r in rows
    ]


def due(
    conn: sa.Connection,
    current: EssStatus,
    now: float,
    config: EssConfig,
    quorum_lost_since: float | None,
    quorum_reason: str,
) -> tuple[str, str] | None:
    """(trigger, reason) of the first periodic trigger that fires now, or None."""
    if current.state != "ACTIVE":
        return None  # both triggers go to REDUCING: nothing to escalate
    if config.quorum_lost_s > 0 and quorum_lost_since is not None:
        lost_for = now - max(quorum_lost_since, current.reset_at)
        if lost_for > config.quorum_lost_s:
            return "quorum", f"release below quorum for {lost_for:.0f} s: {quorum_reason}"
    if config.stale_candles_s > 0:
        for r in conn.execute(sa.select(t.freshness).order_by(t.freshness.c.symbol)):
            quiet = now - max(r.received_at, current.reset_at)
            if quiet > config.stale_candles_s:
                return "stale_data", (
                    f"no fresh {r.symbol} candles for {quiet:.0f} s "
                    f"(ess.stale_candles_s {config.stale_candles_s:.0f})"
                )
    return None

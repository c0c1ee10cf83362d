"""Data freshness per symbol (the stale-candle protection, protections.py, reads it).

"Fresh" means a candle newer than the last one seen for the symbol arrived (with a proposal);
a symbol whose candles stopped arriving for ``ess.stale_bars`` bars of its own timeframe plus
``ess.stale_candles_s`` seconds of grace (a daily symbol: 2 days 15 min) trips REDUCING, and so
does a served release below the consensus quorum for ``ess.quorum_lost_s``. Both windows start
again at a reset, so a reset is not undone by the same old fault the next second.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ai_engine.data import timeframe_delta
from ai_engine.errors import DataValidationError
from ai_engine.safety import tables as t
from ai_engine.safety.config import EssConfig
from ai_engine.safety.ess import iso


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


def stale_limit(config: EssConfig, timeframe: str) -> float:
    """Seconds without a newer candle after which a symbol of ``timeframe`` is stale: 0 (off)
    when ``stale_candles_s`` is 0, else ``stale_bars`` bars plus ``stale_candles_s`` of grace."""
    if config.stale_candles_s <= 0:
        return 0.0
    try:
        bar = timeframe_delta(timeframe).total_seconds()
    except DataValidationError:  # an unknown spelling: the grace alone
        bar = 0.0
    return config.stale_bars * bar + config.stale_candles_s


def freshness(conn: sa.Connection, now: float, config: EssConfig) -> list[dict[str, Any]]:
    """Per symbol: the newest candle seen, when it arrived, and whether it is stale."""
    rows = conn.execute(sa.select(t.freshness).order_by(t.freshness.c.symbol))
    out = []
    for r in rows:
        limit = stale_limit(config, r.timeframe)
        out.append(
            {
                "symbol": r.symbol,
                "timeframe": r.timeframe,
                "last_candle_at": iso(r.last_candle_at),
                "received_at": iso(r.received_at),
                "age_s": round(now - r.received_at, 3),
                "stale_after_s": limit,
                "stale": limit > 0 and now - r.received_at > limit,
            }
        )
    return out

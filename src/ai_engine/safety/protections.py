"""The emergency stop's automatic triggers as configured protection objects, in the shape of
freqtrade's ``IProtection``: each has the trigger name it is audited under, the state it trips
to, the events it watches, and ``fires`` says why it fires now (None: it does not).

``protections(config)`` builds the enabled ones from the ``[ess]`` settings (0 turns one off);
``trip`` runs those that watch an event inside the caller's write transaction. Transitions
only escalate (``ess.move``), so a protection never undoes a more severe state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import sqlalchemy as sa

from ai_engine.safety import ess, ledger, monitor
from ai_engine.safety import tables as t
from ai_engine.safety.config import EssConfig
from ai_engine.safety.ess import EssState, EssStatus


class Event(StrEnum):
    """When protections are checked."""

    ACCOUNT = "account"
    """The bot reported its equity."""
    FILL = "fill"
    """A fill was booked."""
    PERIODIC = "periodic"
    """The service's monitor, every ``ess.check_interval_s``."""


@dataclass(frozen=True)
class Facts:
    """What a protection may look at besides the state store."""

    now: float
    snapshot: ledger.Snapshot | None = None
    breaches: tuple[str, ...] = ()
    quorum_lost_since: float | None = None
    quorum_reason: str = ""


class Protection(ABC):
    """One automatic trigger of the emergency stop."""

    trigger: ClassVar[str]
    trips_to: ClassVar[EssState]
    events: ClassVar[frozenset[Event]]

    @abstractmethod
    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        """Why this protection trips the ESS now, or None."""


@dataclass(frozen=True)
class MaxDrawdown(Protection):
    """Equity ``limit`` (a fraction) below its high-water mark: HALTED."""

    limit: float
    trigger: ClassVar[str] = "drawdown"
    trips_to: ClassVar[EssState] = EssState.HALTED
    events: ClassVar[frozenset[Event]] = frozenset({Event.ACCOUNT, Event.FILL})

    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        s = facts.snapshot
        if s is None or s.drawdown < self.limit:
            return None
        return (
            f"drawdown {s.drawdown:.2%} from the high-water mark {s.hwm:.2f} "
            f"(equity {s.equity:.2f}) reached ess.max_drawdown {self.limit:.2%}"
        )


@dataclass(frozen=True)
class LosingStreak(Protection):
    """``trades`` consecutive losing trades closed within ``window_s`` (and since the last
    reset): HALTED."""

    trades: int
    window_s: float
    trigger: ClassVar[str] = "losing_trades"
    trips_to: ClassVar[EssState] = EssState.HALTED
    events: ClassVar[frozenset[Event]] = frozenset({Event.FILL})

    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        since = max(current.reset_at, facts.now - self.window_s)
        streak = ledger.losing_streak(conn, since)
        if streak < self.trades:
            return None
        return (
            f"{streak} consecutive losing trades within {self.window_s:.0f} s "
            f"(ess.losing_trades {self.trades})"
        )


@dataclass(frozen=True)
class LimitBreach(Protection):
    """Booked positions past a governance limit after a fill: REDUCING."""

    trigger: ClassVar[str] = "limit_breach"
    trips_to: ClassVar[EssState] = EssState.REDUCING
    events: ClassVar[frozenset[Event]] = frozenset({Event.FILL})

    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        if not facts.breaches:
            return None
        return ("LIMIT_BREACHED by a fill: " + "; ".join(facts.breaches))[:1000]


@dataclass(frozen=True)
class QuorumLost(Protection):
    """The served release below the consensus quorum for ``seconds``: REDUCING."""

    seconds: float
    trigger: ClassVar[str] = "quorum"
    trips_to: ClassVar[EssState] = EssState.REDUCING
    events: ClassVar[frozenset[Event]] = frozenset({Event.PERIODIC})

    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        if facts.quorum_lost_since is None:
            return None
        lost_for = facts.now - max(facts.quorum_lost_since, current.reset_at)
        if lost_for <= self.seconds:
            return None
        return f"release below quorum for {lost_for:.0f} s: {facts.quorum_reason}"


@dataclass(frozen=True)
class StaleCandles(Protection):
    """No newer candle of a symbol for its stale limit (``monitor.stale_limit``): REDUCING."""

    config: EssConfig
    trigger: ClassVar[str] = "stale_data"
    trips_to: ClassVar[EssState] = EssState.REDUCING
    events: ClassVar[frozenset[Event]] = frozenset({Event.PERIODIC})

    def fires(self, conn: sa.Connection, current: EssStatus, facts: Facts) -> str | None:
        for r in conn.execute(sa.select(t.freshness).order_by(t.freshness.c.symbol)):
            quiet = facts.now - max(r.received_at, current.reset_at)
            limit = monitor.stale_limit(self.config, r.timeframe)
            if 0 < limit < quiet:
                return (
                    f"no fresh {r.symbol} candles for {quiet:.0f} s, over "
                    f"{self.config.stale_bars:g} {r.timeframe} bars + "
                    f"{self.config.stale_candles_s:.0f} s (ess.stale_bars, ess.stale_candles_s; "
                    "0 turns it off)"
                )
        return None


def protections(config: EssConfig) -> list[Protection]:
    """The enabled protections of ``[ess]``, most severe first."""
    enabled: list[Protection] = []
    if config.max_drawdown > 0:
        enabled.append(MaxDrawdown(config.max_drawdown))
    if config.losing_trades > 0:
        enabled.append(LosingStreak(config.losing_trades, config.losing_window_s))
    enabled.append(LimitBreach())
    if config.quorum_lost_s > 0:
        enabled.append(QuorumLost(config.quorum_lost_s))
    if config.stale_candles_s > 0:
        enabled.append(StaleCandles(config))
    return enabled


def due(
    conn: sa.Connection, watching: list[Protection], event: Event, current: EssStatus, facts: Facts
) -> list[tuple[Protection, str]]:
    """The protections watching ``event`` that would move the ESS now, with why."""
    found = []
    for p in watching:
        if event in p.events and ess.SEVERITY[p.trips_to] > ess.SEVERITY[current.state]:
            why = p.fires(conn, current, facts)
            if why is not None:
                found.append((p, why))
    return found


def trip(
    conn: sa.Connection, watching: list[Protection], event: Event, facts: Facts
) -> list[ess.Transition]:
    """Run the protections watching ``event``; each that fires moves the ESS (escalating only)."""
    moves = []
    for protection in watching:
        if event not in protection.events:
            continue
        current = ess.read(conn)
        why = protection.fires(conn, current, facts)
        if why is None:
            continue
        move = ess.move(
            conn, current, protection.trips_to, protection.trigger, why, "engine", facts.now
        )
        if move is not None:
            moves.append(move)
    return moves

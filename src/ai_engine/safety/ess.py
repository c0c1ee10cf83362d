"""The emergency stop's state, transitions and audit rows, inside a caller's transaction.

States by severity: ACTIVE < REDUCING < HALTED. Automatic triggers only escalate; only a
reset (explicit, with a reason and an actor) goes back to ACTIVE. Each transition updates the
one ESS row and appends an ``ess_transitions`` row in the same transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ai_engine.errors import StateStoreError
from ai_engine.safety import tables as t


class EssState(StrEnum):
    """The trading states, least severe first (NautilusTrader's ``TradingState``)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


SEVERITY = {state.value: rank for rank, state in enumerate(EssState)}
TRIGGERS = (
    "initial",
    "manual",
    "reset",
    "drawdown",
    "losing_trades",
    "limit_breach",
    "quorum",
    "stale_data",
)


def iso(epoch: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC (None stays None)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True)
class EssStatus:
    """The ESS as stored: state, since when, why, by whom, through which trigger."""

    state: str
    since: float
    reason: str
    actor: str
    trigger: str
    reset_at: float

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "since": iso(self.since), "reset_at": iso(self.reset_at)}


@dataclass(frozen=True)
class Transition:
    """One audited change of state."""

    at: float
    from_state: str | None
    to_state: str
    trigger: str
    reason: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


def read(conn: sa.Connection, row: sa.Row[Any] | None = None) -> EssStatus:
    """The stored ESS (``row``: one already read, e.g. under a lock)."""
    if row is None:
        row = conn.execute(sa.select(t.ess_state).where(t.ess_state.c.id == t.ESS_ROW_ID)).first()
    if row is None:
        raise StateStoreError("the ESS row is missing: run `ai-engine state upgrade` first")
    if row.state not in SEVERITY:
        raise StateStoreError(f"the ESS row holds an unknown state {row.state!r}")
    return EssStatus(row.state, row.since, row.reason, row.actor, row.trigger, row.reset_at)


def ensure(conn: sa.Connection, initial_state: str, now: float) -> Transition | None:
    """Create the ESS row in ``initial_state`` at first start; None when it exists."""
    exists = conn.execute(sa.select(t.ess_state.c.id).where(t.ess_state.c.id == t.ESS_ROW_ID))
    if exists.first() is not None:
        return None
    reason = f"first start in {initial_state} (ess.initial_state)"
    conn.execute(
        sa.insert(t.ess_state).values(
            id=t.ESS_ROW_ID,
            state=initial_state,
            since=now,
            reason=reason,
            actor="config",
            trigger="initial",
            reset_at=now,
        )
    )
    return _audit(conn, Transition(now, None, initial_state, "initial", reason, "config"))


def move(
    conn: sa.Connection,
    current: EssStatus,
    to_state: str,
    trigger: str,
    reason: str,
    actor: str,
    now: float,
) -> Transition | None:
    """Go to ``to_state``; automatic and manual trips only escalate (None: nothing changed).

    A reset goes to ACTIVE from any state and is always audited, even from ACTIVE.
    """
    reset = trigger == "reset"
    if not reset and SEVERITY[to_state] <= SEVERITY[current.state]:
        return None
    values: dict[str, Any] = {
        "state": to_state,
        "since": now,
        "reason": reason,
        "actor": actor,
        "trigger": trigger,
    }
    if reset:
        values["reset_at"] = now
    conn.execute(sa.update(t.ess_state).where(t.ess_state.c.id == t.ESS_ROW_ID).values(**values))
    return _audit(conn, Transition(now, current.state, to_state, trigger, reason, actor))


def history(conn: sa.Connection, limit: int) -> list[Transition]:
    """The newest ``limit`` transitions, newest first."""
    rows = conn.execute(
        sa.select(t.ess_transitions).order_by(t.ess_transitions.c.id.desc()).limit(limit)
    )
    return [Transition(r.at, r.from_state, r.to_state, r.trigger, r.reason, r.actor) for r in rows]


def _audit(conn: sa.Connection, transition: Transition) -> Transition:
    conn.execute(sa.insert(t.ess_transitions).values(**asdict(transition)))
    return transition

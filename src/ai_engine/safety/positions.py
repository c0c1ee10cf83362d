"""The position book of the service: the bot's reports, claims, exits by owner, and the
reconciliation at start (the rules are in ownership.py)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ai_engine.errors import NotFound, OwnershipConflict, SafetyInputError
from ai_engine.safety import ledger
from ai_engine.safety import tables as t
from ai_engine.safety.ess import iso
from ai_engine.safety.ownership import (
    EXTERNAL,
    ReportedPosition,
    differences,
    due_exits,
    fingerprint,
    last_report,
    open_rows,
    plan_report,
    proposed,
    write_plan,
)
from ai_engine.safety.store import StateStore


class PositionBook:
    """Positions by owner, the bot's reports, claims and exits, over one state store."""

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.at_start: list[dict[str, Any]] = []
        """The differences between the store and the last report found by ``reconcile``."""

    def reconcile(self) -> list[dict[str, Any]]:
        """The differences between the stored open positions and the last report, each with
        the report's time (``report_at``); kept in ``at_start`` for the caller to log.

        Nothing is changed: fills booked after the report are newer than it; the bot's next
        report settles the positions.
        """
        with self.store.read() as conn:
            last = last_report(conn)
            found = [] if last is None else differences(conn, last[1], strict=False)
        report_at = None if last is None else iso(last[0])
        self.at_start = [{**diff, "report_at": report_at} for diff in found]
        return self.at_start

    def report(
        self, report: list[ReportedPosition], scope: str | None = None
    ) -> list[dict[str, Any]]:
        """Apply the bot's report; its differences. ``scope``: the one owner whose positions
        the report settles (a trader key's); None: the whole book (the admin key).

        The plan is made from a read snapshot, outside the write lock; the write transaction
        re-reads the open positions (one query), makes the plan again only if they changed
        meanwhile (a fill), and writes the rows that change: a few statements, so concurrent
        fills wait milliseconds, not the seconds a row-by-row report held the lock.
        """
        for item in report:
            if not (math.isfinite(item.quantity) and math.isfinite(item.price) and item.price > 0):
                raise SafetyInputError(
                    ["body", "positions"],
                    f"positions: expected a finite quantity and a price > 0, found {item}",
                )
        now = self.clock()
        with self.store.read() as conn:
            plan = plan_report(open_rows(conn), report, proposed(conn, report), now, scope)
        with self.store.write() as conn:
            self.store.lock_ess(conn)
            rows = open_rows(conn)
            if fingerprint(rows) != plan.seen:
                plan = plan_report(rows, report, proposed(conn, report), now, scope)
            return write_plan(conn, plan, report, now)

    def claim(self, position_id: str, owner: str) -> sa.Row[Any]:
        """Give an EXTERNAL position to ``owner``; its owner already: no change; another: 409."""
        if owner == EXTERNAL:
            raise SafetyInputError(
                ["body", "owner"], f"owner: expected a client id, found the reserved {EXTERNAL!r}"
            )
        c = t.positions.c
        with self.store.write() as conn:
            self.store.lock_ess(conn)
            row = conn.execute(sa.select(t.positions).where(c.id == position_id)).first()
            if row is None or row.closed_at is not None:
                raise NotFound(f"no open position {position_id!r} in the state store")
            if row.owner not in (owner, EXTERNAL):
                raise OwnershipConflict(
                    f"position {position_id} ({row.symbol}) belongs to {row.owner!r}; "
                    f"{owner!r} claims it too"
                )
            conn.execute(
                sa.update(t.positions)
                .where(c.id == position_id)
                .values(owner=owner, updated_at=self.clock())
            )
            return conn.execute(sa.select(t.positions).where(c.id == position_id)).one()

    def exits(self, owner: str) -> list[dict[str, Any]]:
        """The exits due now for ``owner``'s positions (never for EXTERNAL ones)."""
        if owner == EXTERNAL:
            raise SafetyInputError(
                ["query", "owner"],
                f"owner: expected a client id; {EXTERNAL} positions are never proposed for an "
                "automatic exit",
            )
        with self.store.read() as conn:
            return due_exits(conn, owner, self.clock())

    def positions(self) -> dict[str, Any]:
        """Open positions by owner, EXTERNAL ones apart, the last report and the differences
        found at start."""
        with self.store.read() as conn:
            last = last_report(conn)
            snapshot = ledger.latest_snapshot(conn)
            rows = ledger.open_positions(conn)
        equity = snapshot.equity if snapshot else None
        return {
            "positions": [ledger.position_json(r, equity) for r in rows if r.owner != EXTERNAL],
            "external": [ledger.position_json(r, equity) for r in rows if r.owner == EXTERNAL],
            "last_report": None if last is None else {"at": iso(last[0]), "count": len(last[1])},
            "at_start": self.at_start,
        }

"""The safety desk: account, fills, proposals and the emergency stop over one state store.

Every public write is one transaction: inputs are checked first (SafetyInputError names the
field, nothing is written), then the ESS row is locked, the rows written and the automatic
triggers that the write can fire (drawdown, losing trades) evaluated, all before the commit.
Transitions are handed to ``on_transition`` after the commit (for metrics).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ai_engine import contract
from ai_engine.errors import SafetyInputError
from ai_engine.safety import ess, ledger, monitor, ownership, proposal, reservations
from ai_engine.safety.config import SafetyConfig
from ai_engine.safety.governance import breaches
from ai_engine.safety.inputs import (
    MAX_AMOUNT,
    MIN_EQUITY,
    RESERVATION_MIN_S,
    booked,
    epoch,
    positive,
    replayed,
    text,
)
from ai_engine.safety.proposal import ProposalInput
from ai_engine.safety.protections import Event, Facts, due, protections, trip
from ai_engine.safety.sizing import size
from ai_engine.safety.store import StateStore

MAX_POSITION_INPUT = 100.0


class SafetyDesk:
    """Risk proposals, portfolio governance and the emergency stop, persisted in ``store``."""

    def __init__(
        self,
        store: StateStore,
        config: SafetyConfig,
        known_symbols: Callable[[], Iterable[str]] = tuple,
        clock: Callable[[], float] = time.time,
        on_transition: Callable[[ess.Transition], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.known_symbols = known_symbols
        self.clock = clock
        self.on_transition = on_transition
        self._quorum_lost_since: float | None = None
        self.protections = protections(config.ess)
        """The automatic triggers of the emergency stop (protections.py), from ``[ess]``."""

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> ess.EssStatus:
        """Migrate the store, create the ESS row at first start, return the stored ESS."""
        self.store.upgrade()
        with self.store.write() as conn:
            created = ess.ensure(conn, self.config.ess.initial_state, self.clock())
            status = ess.read(conn)
        self._notify([created])
        return status

    # ---- emergency stop ------------------------------------------------------------------
    def ess_status(self) -> ess.EssStatus:
        with self.store.read() as conn:
            return ess.read(conn)

    def ess_history(self, limit: int = 50) -> list[ess.Transition]:
        with self.store.read() as conn:
            return ess.history(conn, limit)

    def trip(self, reason: str, actor: str, state: str = "HALTED") -> ess.EssStatus:
        """Manual trip to HALTED or REDUCING (no change when already as severe)."""
        text("reason", reason)
        if state not in ("HALTED", "REDUCING"):
            raise SafetyInputError(
                ["body", "state"], f"state: expected HALTED or REDUCING, found {state!r}"
            )
        return self._move(state, "manual", reason, actor)

    def reset(self, reason: str, actor: str) -> ess.EssStatus:
        """Back to ACTIVE; the drawdown high-water mark and the trigger windows restart now."""
        text("reason", reason)
        now = self.clock()
        with self.store.write() as conn:
            current = ess.read(conn, self.store.lock_ess(conn))
            moved = ess.move(conn, current, "ACTIVE", "reset", reason, actor, now)
            last = ledger.latest_snapshot(conn)
            if last is not None:
                ledger.add_snapshot(conn, last.equity, "ess_reset", now, rebase=True)
            status = ess.read(conn)
        self._quorum_lost_since = None
        self._notify([moved])
        return status

    def _move(self, state: str, trigger: str, reason: str, actor: str) -> ess.EssStatus:
        with self.store.write() as conn:
            current = ess.read(conn, self.store.lock_ess(conn))
            moved = ess.move(conn, current, state, trigger, reason, actor, self.clock())
            status = ess.read(conn)
        self._notify([moved])
        return status

    # ---- account and fills ---------------------------------------------------------------
    def report_account(self, equity: float) -> dict[str, Any]:
        """Append the bot's equity to the curve; may trip the drawdown trigger."""
        positive("equity", equity)
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_ess(conn)
            snapshot = ledger.add_snapshot(conn, equity, "account", now)
            moves = trip(conn, self.protections, Event.ACCOUNT, Facts(now, snapshot))
            result = self._account_json(conn)
        self._notify(moves)
        return result

    def account(self) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._account_json(conn)

    def report_fill(self, fill: ledger.FillInput) -> dict[str, Any]:
        """Book a fill; the realised P&L moves the equity; may trip drawdown or losing trades."""
        self._check_symbol(fill.symbol)
        if fill.side not in ("BUY", "SELL"):
            raise SafetyInputError(
                ["body", "side"], f"side: expected BUY or SELL, found {fill.side!r}"
            )
        positive("quantity", fill.quantity)
        positive("price", fill.price)
        if isinstance(fill.fee, bool) or not (
            math.isfinite(fill.fee) and 0 <= fill.fee <= MAX_AMOUNT
        ):
            raise SafetyInputError(
                ["body", "fee"],
                f"fee: expected a finite number in [0, {MAX_AMOUNT:g}], found {fill.fee}",
            )
        now = self.clock()
        with self.store.write() as conn:
            self.store.lock_ess(conn)
            # the client the fill is reported for: its fill_id is unique within it (the row's
            # owner column, as apply_fill writes it), whoever owns the position it lands on
            client, _ = ownership.fill_owner(conn, fill.symbol, fill.owner, fill.proposal_id)
            if fill.fill_id is not None:
                first = ledger.fill_by_id(conn, client, fill.fill_id)
                if first is not None:
                    return replayed(first, fill)
            position, pnl = ledger.apply_fill(conn, fill, now)
            signed = fill.quantity * fill.price * (1.0 if fill.side == "BUY" else -1.0)
            reservations.use(conn, position.owner, fill.symbol, signed, now)
            last, snapshot = ledger.latest_snapshot(conn), None
            if last is not None and (pnl != 0.0 or fill.fee != 0.0):
                snapshot = ledger.add_snapshot(conn, last.equity + pnl - fill.fee, "fill", now)
            found = self._breaches(conn)
            facts = Facts(now, snapshot, tuple(found))
            moves = trip(conn, self.protections, Event.FILL, facts)
            equity = ledger.latest_snapshot(conn)
            result = {
                "position": ledger.position_json(position, equity.equity if equity else None),
                "realized_pnl": pnl,
                "account": self._account_json(conn),
                "fill_id": fill.fill_id,
                "reasons": ["LIMIT_BREACHED"] if found else [],
                "breaches": found,
            }
            if fill.fill_id is not None:
                ledger.remember_answer(conn, client, fill.fill_id, result)
        self._notify(moves)
        return result

    def breaches(self) -> list[str]:
        """The limits the booked positions are past now (empty: none)."""
        with self.store.read() as conn:
            return self._breaches(conn)

    def reservations(self) -> list[dict[str, Any]]:
        """The live reservations, newest first."""
        with self.store.read() as conn:
            return reservations.live(conn, self.clock())

    def _breaches(self, conn: sa.Connection) -> list[str]:
        snapshot = ledger.latest_snapshot(conn)
        if snapshot is None:
            return []  # no equity yet: fractions of equity are undefined
        return breaches(booked(conn, snapshot.equity), self.config.limits)

    def fills(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return ledger.recent_fills(conn, limit)

    def _account_json(self, conn: sa.Connection) -> dict[str, Any]:
        last = ledger.latest_snapshot(conn)
        equity = last.equity if last else None
        return {
            "snapshot": last.to_json() if last else None,
            "positions": [ledger.position_json(r, equity) for r in ledger.open_positions(conn)],
            "curve": [s.to_json() for s in ledger.equity_curve(conn, 20)],
        }

    # ---- proposals -----------------------------------------------------------------------
    def propose(self, request: ProposalInput, signal: dict[str, Any]) -> dict[str, Any]:
        """Validate, size ``signal``, govern it against the limits (booked + reserved) and the
        ESS, record it with its reservation, answer it (proposal.py)."""
        self._check_proposal(request, signal)
        sizing = size(signal, self.config.sizing)
        now = self.clock()
        carried = contract.carried(signal, datetime.fromtimestamp(now, UTC))
        valid_until = min(
            max(epoch(carried["valid_until"]) or now, now + RESERVATION_MIN_S),
            now + self.config.limits.reservation_max_s,
        )
        with self.store.write() as conn:
            state = ess.read(conn, self.store.lock_ess(conn)).state
            snapshot = ledger.latest_snapshot(conn)
            view = proposal.read_book(conn, request, now)
            decision = proposal.decide(sizing, view, request.equity, self.config.limits, state)
            context = proposal.Context(
                now, valid_until, state, snapshot.equity if snapshot else None
            )
            at = epoch(signal.get("as_of"))
            args = (request, signal, sizing, view, decision, context)
            proposal_id, exits = proposal.record(conn, *args, at)
        return {**proposal.answer(proposal_id, *args, exits), **carried}

    def _check_proposal(self, request: ProposalInput, signal: dict[str, Any]) -> None:
        self._check_symbol(request.symbol)
        positive("equity", request.equity, low=MIN_EQUITY)
        if request.position is not None and not (
            math.isfinite(request.position) and abs(request.position) <= MAX_POSITION_INPUT
        ):
            raise SafetyInputError(
                ["body", "position"],
                f"position: expected a finite fraction of equity within ±{MAX_POSITION_INPUT}, "
                f"found {request.position}",
            )
        for name in ("price", "mark"):
            if getattr(request, name) is not None:
                positive(name, getattr(request, name))
        for name in ("symbol", "timeframe"):
            if signal.get(name) != getattr(request, name):
                raise SafetyInputError(
                    ["body", "signal", name],
                    f"signal.{name}: the signal is for {signal.get(name)!r}, the proposal for "
                    f"{getattr(request, name)!r}",
                )

    def _check_symbol(self, symbol: str) -> None:
        known = set(self.config.limits.symbols) or set(self.known_symbols())
        if symbol not in known:
            raise SafetyInputError(
                ["body", "symbol"],
                f"symbol: expected one of {sorted(known)} (limits.symbols, or the symbols the "
                "served releases cover), found another",
            )

    # ---- freshness and the periodic triggers -----------------------------------------------
    def freshness(self) -> list[dict[str, Any]]:
        """Per symbol: the newest candle seen, when it arrived, and whether it is stale."""
        with self.store.read() as conn:
            return monitor.freshness(conn, self.clock(), self.config.ess)

    def check_monitors(self, quorum_ok: bool, quorum_reason: str) -> ess.EssStatus:
        """The service's periodic check: release below quorum too long, candles stale too long.

        Reads first; only a trigger that fires takes the write lock (and is checked again).
        """
        now = self.clock()
        if quorum_ok:
            self._quorum_lost_since = None
        elif self._quorum_lost_since is None:
            self._quorum_lost_since = now
        facts = Facts(now, quorum_lost_since=self._quorum_lost_since, quorum_reason=quorum_reason)
        with self.store.read() as conn:
            current = ess.read(conn)
            firing = due(conn, self.protections, Event.PERIODIC, current, facts)
        if not firing:
            return current
        with self.store.write() as conn:
            self.store.lock_ess(conn)
            moves = trip(conn, self.protections, Event.PERIODIC, facts)
            status = ess.read(conn)
        self._notify(moves)
        return status

    def _notify(self, moves: Iterable[ess.Transition | None]) -> None:
        if self.on_transition is None:
            return
        for move in moves:
            if move is not None:
                self.on_transition(move)

"""Exit ownership: every open position has exactly one owner, the one that proposes its exit.

A position opened through a proposal belongs to the proposal's ``owner`` (the client that
asked, e.g. a strategy id) and takes the proposal's stop level (from the entry price) and
maximum holding time. A position the bot reports that no proposal opened is ``EXTERNAL``:
shown apart, never proposed for an automatic exit. A second owner's claim on a position is an
``OwnershipConflict`` (HTTP 409). The bot's position reports are kept; at start the stored
positions are compared with the last report and every difference is logged.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from ai_engine.errors import OwnershipConflict, SafetyInputError
from ai_engine.safety import tables as t
from ai_engine.safety.ess import iso

EXTERNAL = "EXTERNAL"
DEFAULT_OWNER = "engine"
QTY_EPS = 1e-9


@dataclass(frozen=True)
class ReportedPosition:
    """One open position as the bot holds it: signed quantity, its price now, optionally the
    owner it believes in and the engine's position id."""

    symbol: str
    quantity: float
    price: float
    owner: str | None = None
    position_id: str | None = None


# ---- fills: who owns what a fill opens -----------------------------------------------------
def fill_owner(
    conn: sa.Connection, symbol: str, owner: str | None, proposal_id: int | None
) -> tuple[str, sa.Row[Any] | None]:
    """The owner a fill books under and the proposal it follows (when it names one).

    A named proposal must exist and be for ``symbol``; a fill owner other than the proposal's
    is a second claim (OwnershipConflict).
    """
    if proposal_id is None:
        return owner or DEFAULT_OWNER, None
    proposal = conn.execute(sa.select(t.proposals).where(t.proposals.c.id == proposal_id)).first()
    if proposal is None:
        raise SafetyInputError(
            ["body", "proposal_id"], f"proposal_id: no proposal {proposal_id} in the state store"
        )
    if proposal.symbol != symbol:
        raise SafetyInputError(
            ["body", "symbol"],
            f"symbol: proposal {proposal_id} is for {proposal.symbol!r}, the fill for {symbol!r}",
        )
    if owner is not None and owner != proposal.owner:
        raise OwnershipConflict(
            f"proposal {proposal_id} belongs to {proposal.owner!r}; the fill claims it for "
            f"{owner!r}"
        )
    return str(proposal.owner), proposal


def check_claim(position: sa.Row[Any], owner: str | None) -> None:
    """A fill on ``position`` that names another owner is a second claim."""
    if owner is not None and owner != position.owner:
        raise OwnershipConflict(
            f"position {position.id} ({position.symbol}) belongs to {position.owner!r}; "
            f"{owner!r} claims it too"
        )


def opening_levels(
    conn: sa.Connection,
    owner: str,
    symbol: str,
    signed: float,
    price: float,
    now: float,
    proposal: sa.Row[Any] | None,
) -> dict[str, Any]:
    """Stop level and holding limit of a position opened now: from the named proposal, else
    from the owner's newest non-denied proposal on this side still within its holding time."""
    if proposal is None and owner != EXTERNAL:
        c = t.proposals.c
        side = c.target > 0 if signed > 0 else c.target < 0
        for row in conn.execute(
            sa.select(t.proposals)
            .where(c.owner == owner, c.symbol == symbol, c.status != "denied", c.at <= now, side)
            .order_by(c.at.desc(), c.id.desc())
            .limit(1)
        ):
            held = float((row.exits or {}).get("max_holding_s") or 0.0)
            if row.at + held >= now:
                proposal = row
    if proposal is None:
        return {"proposal_id": None, "stop_loss": None, "max_holding_until": None}
    exits = proposal.exits or {}
    stop = exits.get("stop_loss_return")
    hold_s = float(exits.get("max_holding_s") or 0.0)
    return {
        "proposal_id": int(proposal.id),
        "stop_loss": None if stop is None else price * math.exp(float(stop)),
        "max_holding_until": now + hold_s if hold_s > 0 else None,
    }


# ---- exits -----------------------------------------------------------------------------------
def due_exits(conn: sa.Connection, owner: str, now: float) -> list[dict[str, Any]]:
    """The open positions of ``owner`` past their stop level or maximum holding time."""
    c = t.positions.c
    rows = conn.execute(
        sa.select(t.positions)
        .where(c.owner == owner, c.closed_at.is_(None))
        .order_by(c.opened_at, c.id)
    )
    exits = []
    for row in rows:
        reasons = []
        if row.stop_loss is not None and (
            (row.quantity > 0 and row.last_price <= row.stop_loss)
            or (row.quantity < 0 and row.last_price >= row.stop_loss)
        ):
            reasons.append("stop_loss")
        if row.max_holding_until is not None and now >= row.max_holding_until:
            reasons.append("max_holding")
        if reasons:
            exits.append(
                {
                    "position_id": row.id,
                    "owner": row.owner,
                    "symbol": row.symbol,
                    "side": "SELL" if row.quantity > 0 else "BUY",
                    "quantity": abs(row.quantity),
                    "reason": reasons[0],
                    "reasons": reasons,
                    "last_price": row.last_price,
                    "stop_loss": row.stop_loss,
                    "max_holding_until": iso(row.max_holding_until),
                    "opened_at": iso(row.opened_at),
                    "proposal_id": row.proposal_id,
                }
            )
    return exits


# ---- reports and reconciliation --------------------------------------------------------------
REPORT_HISTORY = 50
"""Position reports kept (the newest); older ones are deleted as each report is stored."""


@dataclass
class ReportPlan:
    """What a report changes, worked out from a snapshot of the open positions (``seen``):
    its differences, the positions it opens, and the new state of the rows it changes."""

    seen: tuple[tuple[Any, ...], ...]
    found: list[dict[str, Any]]
    opened: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    marked: list[dict[str, Any]]


def open_rows(conn: sa.Connection) -> list[sa.Row[Any]]:
    """The open positions, oldest first."""
    c = t.positions.c
    query = sa.select(t.positions).where(c.closed_at.is_(None)).order_by(c.opened_at, c.id)
    return list(conn.execute(query))


def fingerprint(rows: list[sa.Row[Any]]) -> tuple[tuple[Any, ...], ...]:
    """What a plan depends on: each open position's id, owner, symbol, quantity and mark."""
    return tuple((r.id, r.owner, r.symbol, r.quantity, r.last_price) for r in rows)


def proposed(conn: sa.Connection, report: list[ReportedPosition]) -> set[tuple[str, str]]:
    """(owner, symbol) pairs of ``report`` with a non-denied proposal (one query)."""
    owners = {i.owner for i in report if i.owner is not None and i.owner != EXTERNAL}
    if not owners:
        return set()
    c = t.proposals.c
    query = (
        sa.select(c.owner, c.symbol)
        .where(c.owner.in_(owners), c.symbol.in_({i.symbol for i in report}))
        .where(c.status != "denied")
        .distinct()
    )
    return {(str(owner), str(symbol)) for owner, symbol in conn.execute(query)}


def plan_report(
    rows: list[sa.Row[Any]],
    report: list[ReportedPosition],
    with_proposal: set[tuple[str, str]],
    now: float,
    scope: str | None = None,
) -> ReportPlan:
    """The plan that makes the open ``rows`` those of ``report`` (OwnershipConflict on a second
    owner). Unknown positions open as EXTERNAL unless their named owner has a proposal on the
    symbol; every reported price marks the symbol's open positions (the last one given wins).
    ``scope``: an owner whose positions alone the report settles and marks (it still matches
    EXTERNAL ones, so it never opens one twice); None: every owner's."""
    seen = fingerprint(rows)
    rows = [r for r in rows if scope is None or r.owner in (scope, EXTERNAL)]
    found = _differences(rows, report, strict=True, scope=scope)
    opened: list[dict[str, Any]] = []
    state = {r.id: {"quantity": r.quantity, "last_price": r.last_price} for r in rows}
    changed: dict[str, dict[str, Any]] = {}
    for diff in found:
        kind = diff["kind"]
        if kind == "unknown_position":
            named = diff["owner"]
            owner = named if (named, diff["symbol"]) in with_proposal else None
            row = {
                "id": diff["position_id"] or uuid.uuid4().hex,
                "owner": owner or EXTERNAL,
                "symbol": diff["symbol"],
                "quantity": diff["reported"],
                "avg_price": diff["price"],
                "last_price": diff["price"],
            }
            opened.append(row)
            diff.update(position_id=row["id"], owner=row["owner"], action="opened")
        elif kind in ("quantity_differs", "missing_from_report") and (
            scope is None or diff["owner"] == scope
        ):
            flat = abs(diff["reported"]) <= QTY_EPS
            now_row = state[diff["position_id"]]
            now_row["quantity"] = 0.0 if flat else diff["reported"]
            if diff.get("price") is not None:
                now_row["last_price"] = diff["price"]
            changed[diff["position_id"]] = {"closed_at": now if flat else None}
            diff["action"] = "closed" if flat else "resized"
        else:
            diff["action"] = "none: name the owner or position_id in the report"
    prices = {item.symbol: item.price for item in report}
    marked = []
    for r in rows:
        closed = changed.get(r.id, {}).get("closed_at") is not None
        price = prices.get(r.symbol) if scope is None or r.owner == scope else None
        if price is not None and not closed:
            state[r.id]["last_price"] = price
        if r.id in changed:
            changed[r.id].update(state[r.id], _id=r.id)
        elif state[r.id]["last_price"] != r.last_price:
            marked.append({"_id": r.id, "last_price": state[r.id]["last_price"]})
    for row in opened:
        row["last_price"] = prices.get(row["symbol"], row["last_price"])
    return ReportPlan(seen, found, opened, list(changed.values()), marked)


def write_plan(
    conn: sa.Connection, plan: ReportPlan, report: list[ReportedPosition], now: float
) -> list[dict[str, Any]]:
    """Write ``plan`` (a few statements whatever the report's size): the positions it opens
    and changes, the report itself, and the pruning of old reports. Its differences."""
    c = t.positions.c
    if plan.opened:
        ids = [row["id"] for row in plan.opened]
        taken = set(conn.execute(sa.select(c.id).where(c.id.in_(ids))).scalars())
        for row, diff in zip(plan.opened, _opened_diffs(plan.found), strict=True):
            if row["id"] in taken:  # a closed position's id (or one given twice): a new one
                row["id"] = uuid.uuid4().hex
                diff["position_id"] = row["id"]
            taken.add(row["id"])
        values = {"realized_pnl": 0.0, "opened_at": now, "updated_at": now, "closed_at": None}
        conn.execute(sa.insert(t.positions), [{**row, **values} for row in plan.opened])
    by_id = c.id == sa.bindparam("_id")
    if plan.changed:
        conn.execute(
            sa.update(t.positions)
            .where(by_id)
            .values(
                quantity=sa.bindparam("quantity"),
                last_price=sa.bindparam("last_price"),
                closed_at=sa.bindparam("closed_at"),
                updated_at=now,
            ),
            plan.changed,
        )
    if plan.marked:
        update = sa.update(t.positions).where(by_id)
        conn.execute(update.values(last_price=sa.bindparam("last_price")), plan.marked)
    conn.execute(
        sa.insert(t.position_reports).values(
            at=now, positions=[asdict(item) for item in report], differences=plan.found
        )
    )
    _prune_reports(conn)
    return plan.found


def differences(
    conn: sa.Connection, report: list[ReportedPosition], strict: bool
) -> list[dict[str, Any]]:
    """How the stored open positions differ from ``report``, one dict per difference.

    Kinds: ``unknown_position`` (reported, not stored), ``missing_from_report`` (stored, not
    reported), ``quantity_differs``, ``owner_differs`` (``strict``: OwnershipConflict instead)
    and ``ambiguous`` (several stored positions of the symbol, the report names none of them).
    """
    return _differences(open_rows(conn), report, strict)


def last_report(conn: sa.Connection) -> tuple[float, list[ReportedPosition]] | None:
    c = t.position_reports.c
    row = conn.execute(sa.select(t.position_reports).order_by(c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return float(row.at), [ReportedPosition(**item) for item in row.positions]


def _differences(
    rows: list[sa.Row[Any]],
    report: list[ReportedPosition],
    strict: bool,
    scope: str | None = None,
) -> list[dict[str, Any]]:
    """``differences`` over the open ``rows`` (in memory: dictionaries, no scan per item)."""
    stored = {row.id: row for row in rows}
    by_owner: dict[tuple[str, str], sa.Row[Any]] = {}
    by_symbol: dict[str, list[sa.Row[Any]]] = {}
    for row in rows:
        by_owner.setdefault((row.owner, row.symbol), row)
        by_symbol.setdefault(row.symbol, []).append(row)
    exact = {i: _exact(stored, by_owner, item) for i, item in enumerate(report)}
    matched: set[str] = {row.id for row in exact.values() if row is not None}
    found: list[dict[str, Any]] = []
    for i, item in enumerate(report):
        match = exact[i] if exact[i] is not None else _match(by_symbol, matched, item)
        if isinstance(match, list):
            matched.update(row.id for row in match)
            total = sum(row.quantity for row in match)
            if abs(total - item.quantity) > QTY_EPS * max(1.0, abs(total)):
                found.append(_diff("ambiguous", item, None, stored=total))
            continue
        if match is None:
            found.append(_diff("unknown_position", item, None))
            continue
        matched.add(match.id)
        if item.owner is not None and item.owner != match.owner:
            if strict:
                raise OwnershipConflict(
                    f"position {match.id} ({match.symbol}) belongs to {match.owner!r}; the "
                    f"report claims it for {item.owner!r}"
                )
            found.append(_diff("owner_differs", item, match))
        if abs(match.quantity - item.quantity) > QTY_EPS * max(1.0, abs(match.quantity)):
            found.append(_diff("quantity_differs", item, match))
    for row in rows:
        if row.id not in matched and (scope is None or row.owner == scope):
            found.append(
                {
                    "kind": "missing_from_report",
                    "position_id": row.id,
                    "symbol": row.symbol,
                    "owner": row.owner,
                    "stored": row.quantity,
                    "reported": 0.0,
                }
            )
    return found


def _exact(
    stored: dict[str, sa.Row[Any]],
    by_owner: dict[tuple[str, str], sa.Row[Any]],
    item: ReportedPosition,
) -> sa.Row[Any] | None:
    """The stored position ``item`` names: by id, else by (owner, symbol)."""
    if item.position_id is not None:
        return stored.get(item.position_id)
    if item.owner is None:
        return None
    return by_owner.get((item.owner, item.symbol))


def _match(
    by_symbol: dict[str, list[sa.Row[Any]]], matched: set[str], item: ReportedPosition
) -> sa.Row[Any] | list[sa.Row[Any]] | None:
    """Without an exact match: the one open position of the symbol not matched yet (whatever
    its owner: a different owner is a second claim); several candidates: the list of them."""
    if item.position_id is not None:
        return None
    free = [r for r in by_symbol.get(item.symbol, []) if r.id not in matched]
    if len(free) > 1:
        return free
    return free[0] if free else None


def _diff(
    kind: str, item: ReportedPosition, row: sa.Row[Any] | None, stored: float | None = None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "position_id": row.id if row is not None else item.position_id,
        "symbol": item.symbol,
        "owner": row.owner if row is not None else item.owner,
        "stored": row.quantity if row is not None else (stored or 0.0),
        "reported": item.quantity,
        "price": item.price,
        **({"reported_owner": item.owner} if kind == "owner_differs" else {}),
    }


def _opened_diffs(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [diff for diff in found if diff.get("action") == "opened"]


def _prune_reports(conn: sa.Connection) -> None:
    """Delete all but the newest ``REPORT_HISTORY`` reports (two indexed statements)."""
    c = t.position_reports.c
    query = sa.select(c.id).order_by(c.id.desc()).offset(REPORT_HISTORY - 1).limit(1)
    oldest_kept = conn.execute(query).scalar()
    if oldest_kept is not None:
        conn.execute(sa.delete(t.position_reports).where(c.id < oldest_kept))

"""Portfolio governance and the emergency-stop gate: pure functions over fractions of equity.

A target is clipped (LIMIT_SYMBOL, LIMIT_GROSS, LIMIT_NET, NOTIONAL_MAX) or denied, i.e. the
current position is kept (LIMIT_POSITIONS, NOTIONAL_MIN, RATE), each with an ``Adjustment``
naming the code. Reducing exposure is never denied by LIMIT_POSITIONS, RATE or NOTIONAL_MIN.
The ESS gate comes last and overrides: REDUCING keeps only reductions (ESS_REDUCING), HALTED
proposes the exit of every position (target 0, ESS_HALTED).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ai_engine.safety.config import LimitsConfig

EPS = 1e-12


@dataclass(frozen=True)
class Adjustment:
    """One change to a proposal's target, with its reason code."""

    code: str
    before: float
    after: float
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Book:
    """What governance looks at besides the target: the portfolio and the recent changes."""

    current: float
    """This symbol's current position (signed fraction of equity)."""
    others: dict[str, float]
    """Every other symbol's open position (signed fractions of equity)."""
    equity: float
    changes_last_minute: int
    """Proposals in the last 60 s that moved a position towards more exposure."""


def is_adding(target: float, current: float) -> bool:
    """Whether going from ``current`` to ``target`` adds exposure (grows it or flips side)."""
    return abs(target) > abs(current) + EPS or target * current < -EPS


def govern(target: float, book: Book, limits: LimitsConfig) -> tuple[float, list[Adjustment]]:
    """``target`` after every limit, and the adjustments made (in the order applied)."""
    steps: list[Adjustment] = []

    def change(code: str, new: float, message: str) -> None:
        nonlocal target
        if abs(new - target) > EPS:
            steps.append(Adjustment(code, target, new, message))
            target = new

    current = book.current
    if abs(target) > limits.max_position:
        change(
            "LIMIT_SYMBOL",
            math.copysign(limits.max_position, target),
            f"|position| capped at max_position {limits.max_position}",
        )
    gross_other = sum(abs(v) for v in book.others.values())
    room = max(limits.max_gross - gross_other, 0.0)
    if abs(target) > room and is_adding(target, current):
        change(
            "LIMIT_GROSS",
            math.copysign(max(room, min(abs(current), abs(target))), target),
            f"gross exposure capped at max_gross {limits.max_gross} "
            f"(other positions hold {gross_other:.4f})",
        )
    net_other = sum(book.others.values())
    low, high = -limits.max_net - net_other, limits.max_net - net_other
    if not low - EPS <= target <= high + EPS and is_adding(target, current):
        bounded = min(max(target, low), high)
        bounded = bounded if bounded * target > 0 else 0.0  # never flip to the other side
        if current * target > 0 and abs(bounded) < abs(current):
            bounded = current  # a cap stops growth; it does not force a reduction
        change(
            "LIMIT_NET",
            bounded,
            f"net exposure capped at ±{limits.max_net} (other positions net {net_other:+.4f})",
        )
    opened = sum(1 for v in book.others.values() if abs(v) > EPS)
    if abs(current) <= EPS and abs(target) > EPS and opened >= limits.max_open_positions:
        change(
            "LIMIT_POSITIONS",
            current,
            f"{opened} positions open, max_open_positions is {limits.max_open_positions}",
        )
    delta = target - current
    if is_adding(target, current) and abs(delta) * book.equity > limits.max_notional:
        allowed = limits.max_notional / book.equity
        change(
            "NOTIONAL_MAX",
            current + math.copysign(allowed, delta),
            f"change of {abs(delta) * book.equity:.2f} capped at max_notional "
            f"{limits.max_notional}",
        )
    delta = target - current
    if abs(delta) > EPS and abs(delta) * book.equity < limits.min_notional and abs(target) > EPS:
        change(
            "NOTIONAL_MIN",
            current,
            f"change of {abs(delta) * book.equity:.2f} is below min_notional {limits.min_notional}",
        )
    if is_adding(target, current) and book.changes_last_minute >= limits.max_changes_per_minute:
        change(
            "RATE",
            current,
            f"{book.changes_last_minute} position changes in the last minute, "
            f"max_changes_per_minute is {limits.max_changes_per_minute}",
        )
    return target, steps


def ess_gate(target: float, current: float, state: str) -> tuple[float, Adjustment | None]:
    """The emergency stop's say, after governance: it overrides every other rule."""
    if state == "HALTED" and abs(target) > EPS:
        return 0.0, Adjustment(
            "ESS_HALTED", target, 0.0, "emergency stop HALTED: no new exposure, exits only"
        )
    if state == "REDUCING" and is_adding(target, current):
        new = 0.0 if target * current < 0 else current
        return new, Adjustment(
            "ESS_REDUCING", target, new, "emergency stop REDUCING: only reductions of exposure"
        )
    return target, None


def status_of(raw: float, target: float, current: float) -> str:
    """approved (unchanged), clipped (moved less far) or denied (position kept / exit only)."""
    if abs(raw - target) <= EPS:
        return "approved"
    if abs(target - current) <= EPS or (abs(target) <= EPS and is_adding(raw, current)):
        return "denied"
    return "clipped"


def breaches(exposure: dict[str, float], limits: LimitsConfig) -> list[str]:
    """What the booked book (signed fractions of equity per symbol) holds past a limit.

    Fills are booked whatever they do (they happened); this says which caps they broke.
    """
    found = [
        f"{symbol}: |position| {abs(v):.4f} over max_position {limits.max_position}"
        for symbol, v in sorted(exposure.items())
        if abs(v) > limits.max_position + 1e-9
    ]
    gross = sum(abs(v) for v in exposure.values())
    if gross > limits.max_gross + 1e-9:
        found.append(f"gross exposure {gross:.4f} over max_gross {limits.max_gross}")
    net = sum(exposure.values())
    if abs(net) > limits.max_net + 1e-9:
        found.append(f"net exposure {net:+.4f} over ±max_net {limits.max_net}")
    opened = sum(1 for v in exposure.values() if abs(v) > EPS)
    if opened > limits.max_open_positions:
        found.append(f"{opened} positions open over max_open_positions {limits.max_open_positions}")
    return found

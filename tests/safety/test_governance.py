"""Every governance limit and the ESS gate, table-driven: (target, book, limits) -> result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ai_engine.safety.config import LimitsConfig
from ai_engine.safety.governance import Book, ess_gate, govern, is_adding, status_of

LIMITS = LimitsConfig(
    max_position=0.5,
    max_gross=1.0,
    max_net=0.8,
    max_open_positions=2,
    max_changes_per_minute=3,
    min_notional=10.0,
    max_notional=5_000.0,
)


def book(current: float = 0.0, others: dict[str, float] | None = None, **kw: Any) -> Book:
    values: dict[str, Any] = {"equity": 10_000.0, "changes_last_minute": 0, **kw}
    return Book(current, others or {}, **values)


CASES = [
    # (id, target, book, limits changes, expected target, expected codes)
    ("within-limits", 0.3, book(), {}, 0.3, []),
    ("symbol-clip-long", 0.9, book(), {}, 0.5, ["LIMIT_SYMBOL"]),
    ("symbol-clip-short", -0.9, book(), {}, -0.5, ["LIMIT_SYMBOL"]),
    (
        "gross-clip",
        0.4,
        book(others={"A": 0.5, "B": -0.3}),
        {"max_open_positions": 5},
        0.2,
        ["LIMIT_GROSS"],
    ),
    ("gross-keeps-current", 0.4, book(0.3, {"A": 0.9}), {}, 0.3, ["LIMIT_GROSS"]),
    ("gross-allows-reduction", 0.1, book(0.3, {"A": 0.9}), {}, 0.1, []),
    ("net-clip", 0.4, book(others={"A": 0.5}), {"max_gross": 2.0}, 0.3, ["LIMIT_NET"]),
    ("net-short-side-free", -0.4, book(others={"A": 0.5}), {"max_gross": 2.0}, -0.4, []),
    (
        "net-never-flips",
        0.2,
        book(others={"A": 0.5, "B": 0.45}),
        {"max_gross": 5.0, "max_open_positions": 5},
        0.0,
        ["LIMIT_NET"],
    ),
    ("positions-deny-new", 0.2, book(others={"A": 0.1, "B": 0.1}), {}, 0.0, ["LIMIT_POSITIONS"]),
    ("positions-allow-existing", 0.3, book(0.1, {"A": 0.1, "B": 0.1}), {}, 0.3, []),
    ("notional-max-clip", 0.5, book(-0.2), {}, 0.3, ["NOTIONAL_MAX"]),
    ("notional-min-deny", 0.1005, book(0.1), {}, 0.1, ["NOTIONAL_MIN"]),
    ("notional-min-allows-full-exit", 0.0, book(0.0005), {}, 0.0, []),
    ("rate-deny", 0.3, book(0.1, changes_last_minute=3), {}, 0.1, ["RATE"]),
    ("rate-allows-reduction", 0.05, book(0.1, changes_last_minute=3), {}, 0.05, []),
]


@pytest.mark.parametrize(
    ("target", "state", "limits", "expected", "codes"),
    [(c[1], c[2], c[3], c[4], c[5]) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_limits(
    target: float, state: Book, limits: dict[str, Any], expected: float, codes: list[str]
) -> None:
    result, steps = govern(target, state, replace(LIMITS, **limits))
    assert result == pytest.approx(expected)
    assert [s.code for s in steps] == codes
    for step in steps:
        assert step.message and step.before != step.after


GATES = [
    ("active", 0.3, 0.1, "ACTIVE", 0.3, None),
    ("halted-denies-new", 0.3, 0.0, "HALTED", 0.0, "ESS_HALTED"),
    ("halted-exits", 0.3, 0.2, "HALTED", 0.0, "ESS_HALTED"),
    ("halted-exit-already", 0.0, 0.2, "HALTED", 0.0, None),
    ("reducing-denies-growth", 0.3, 0.1, "REDUCING", 0.1, "ESS_REDUCING"),
    ("reducing-denies-flip", -0.3, 0.1, "REDUCING", 0.0, "ESS_REDUCING"),
    ("reducing-allows-reduction", 0.05, 0.1, "REDUCING", 0.05, None),
]


@pytest.mark.parametrize(
    ("target", "current", "state", "expected", "code"),
    [g[1:] for g in GATES],
    ids=[g[0] for g in GATES],
)
def test_ess_gate(
    target: float, current: float, state: str, expected: float, code: str | None
) -> None:
    result, step = ess_gate(target, current, state)
    assert result == expected
    assert (step.code if step else None) == code


@pytest.mark.parametrize(
    ("raw", "target", "current", "status"),
    [
        (0.3, 0.3, 0.0, "approved"),
        (0.9, 0.5, 0.0, "clipped"),
        (0.3, 0.1, 0.1, "denied"),
        (0.3, 0.0, 0.2, "denied"),
        (0.0, 0.0, 0.2, "approved"),
    ],
)
def test_status(raw: float, target: float, current: float, status: str) -> None:
    assert status_of(raw, target, current) == status


def test_is_adding() -> None:
    assert is_adding(0.2, 0.1) and is_adding(-0.1, 0.1) and is_adding(0.1, 0.0)
    assert not is_adding(0.05, 0.1) and not is_adding(0.0, -0.3) and not is_adding(0.1, 0.1)

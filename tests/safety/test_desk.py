"""The desk over a real database (every test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from ai_engine.errors import SafetyInputError
from ai_engine.safety import FillInput, ProposalInput, SafetyDesk
from ai_engine.safety import tables as t
from safety.conftest import Clock, make_desk
from safety.signals import make_signal

EQUITY = 10_000.0


def counts(desk: SafetyDesk) -> dict[str, int]:
    with desk.store.read() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in t.metadata.tables.items()
        }


def propose(desk: SafetyDesk, signal: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    signal = signal or make_signal()
    values = {"equity": EQUITY, "price": 100.0, **kw}
    return desk.propose(ProposalInput(signal["symbol"], signal["timeframe"], **values), signal)


def round_trip(desk: SafetyDesk, entry: float, exit_: float, qty: float = 1.0) -> None:
    """Open and close a long position, one second apart (trades are ordered by close time)."""
    desk.report_fill(FillInput("SYN", "BUY", qty, entry))
    desk.clock.advance(1)  # type: ignore[attr-defined]
    desk.report_fill(FillInput("SYN", "SELL", qty, exit_))


def test_migrations_are_idempotent_and_the_state_persists(desk: SafetyDesk, clock: Clock) -> None:
    assert desk.store.revision() == desk.store.head()
    desk.trip("operator saw a bad fill", "alice")
    again = make_desk(desk.store.url, clock, ess={"initial_state": "ACTIVE"})
    status = again.ess_status()
    assert (status.state, status.reason, status.actor) == (
        "HALTED",
        "operator saw a bad fill",
        "alice",
    )
    assert [m.trigger for m in again.ess_history()] == ["manual", "initial"]


def test_initial_state_is_configurable(state_url: str, clock: Clock) -> None:
    desk = make_desk(state_url, clock, ess={"initial_state": "HALTED"})
    assert desk.ess_status().state == "HALTED"
    assert propose(desk)["reasons"] == ["ESS_HALTED"]


def test_drawdown_reported_by_account_trips_and_reset_rebases(desk: SafetyDesk) -> None:
    desk.report_account(EQUITY)
    desk.report_account(12_000.0)
    assert desk.ess_status().state == "ACTIVE"
    account = desk.report_account(9_500.0)
    assert account["snapshot"]["hwm"] == 12_000.0
    status = desk.ess_status()
    assert (status.state, status.trigger) == ("HALTED", "drawdown")
    assert "20.83%" in status.reason
    desk.reset("reviewed the drawdown", "bob")
    desk.report_account(9_400.0)  # 1 % below the rebased high-water mark
    assert desk.ess_status().state == "ACTIVE"
    assert desk.account()["snapshot"]["hwm"] == 9_500.0


def test_drawdown_reported_by_fills_trips(desk: SafetyDesk) -> None:
    desk.report_account(EQUITY)
    round_trip(desk, 100.0, 78.0, qty=100.0)
    account = desk.account()
    assert account["snapshot"]["equity"] == pytest.approx(EQUITY - 2_200.0)
    status = desk.ess_status()
    assert (status.state, status.trigger) == ("HALTED", "drawdown")
    assert propose(desk)["status"] == "denied"


def test_consecutive_losing_trades_within_the_window_trip(state_url: str, clock: Clock) -> None:
    desk = make_desk(state_url, clock, ess={"losing_trades": 3, "losing_window_s": 3600})
    round_trip(desk, 100.0, 99.0)
    clock.advance(4000)  # this loss falls out of the window
    round_trip(desk, 100.0, 99.0)
    round_trip(desk, 100.0, 101.0)  # a win breaks the streak
    round_trip(desk, 100.0, 99.0)
    round_trip(desk, 100.0, 99.0)
    assert desk.ess_status().state == "ACTIVE"
    round_trip(desk, 100.0, 99.5)
    status = desk.ess_status()
    assert (status.state, status.trigger) == ("HALTED", "losing_trades")


def test_fills_keep_positions_and_realised_pnl(desk: SafetyDesk) -> None:
    desk.report_account(EQUITY)
    opened = desk.report_fill(FillInput("SYN", "BUY", 10.0, 100.0, fee=1.0))
    position = opened["position"]
    assert position["fraction"] == pytest.approx(1_000.0 / (EQUITY - 1.0))
    desk.report_fill(FillInput("SYN", "BUY", 10.0, 110.0, position_id=position["id"]))
    half = desk.report_fill(FillInput("SYN", "SELL", 5.0, 120.0, fee=0.5))
    assert half["realized_pnl"] == pytest.approx(5 * 15.0)
    assert half["position"]["quantity"] == pytest.approx(15.0)
    closed = desk.report_fill(FillInput("SYN", "SELL", 15.0, 100.0))
    assert closed["position"]["closed_at"] is not None
    assert closed["position"]["realized_pnl"] == pytest.approx(75.0 - 75.0 - 1.5)
    assert desk.account()["positions"] == []
    assert len(desk.fills()) == 4


def test_stored_position_is_the_default_current(desk: SafetyDesk) -> None:
    desk.report_fill(FillInput("SYN", "BUY", 20.0, 100.0))
    proposal = propose(desk)
    assert proposal["current"] == pytest.approx(2_000.0 / EQUITY)
    assert propose(desk, position=0.0)["current"] == 0.0


def test_proposal_is_audited_with_inputs_signal_and_adjustments(desk: SafetyDesk) -> None:
    signal = make_signal(lower=-0.0001, upper=0.0001)
    proposal = propose(desk, signal)
    assert proposal["reasons"] == ["LEVERAGE", "LIMIT_SYMBOL"]
    assert proposal["status"] == "clipped" and proposal["target"] == 0.5
    assert proposal["stop_loss"] == pytest.approx(100.0 * math.exp(-0.0001))
    with desk.store.read() as conn:
        row = conn.execute(sa.select(t.proposals)).one()
    assert row.release == "test-release" and row.signal["action"] == "BUY"
    assert row.inputs["equity"] == EQUITY and row.adjustments[1]["code"] == "LIMIT_SYMBOL"
    assert (row.raw_target, row.target) == (proposal["raw_target"], proposal["target"])


def test_halted_denies_new_exposure_until_reset(desk: SafetyDesk) -> None:
    desk.trip("test", "carol")
    denied = propose(desk)
    assert (denied["target"], denied["reasons"], denied["status"]) == (
        0.0,
        ["ESS_HALTED"],
        "denied",
    )
    desk.reset("all clear", "carol")
    allowed = propose(desk)
    assert allowed["target"] > 0 and allowed["status"] == "approved"


def test_rate_limit_counts_recent_changes_in_the_store(state_url: str, clock: Clock) -> None:
    desk = make_desk(state_url, clock, limits={"max_changes_per_minute": 2})
    assert [propose(desk, position=0.0)["status"] for _ in range(2)] == ["approved"] * 2
    assert propose(desk, position=0.0)["reasons"] == ["RATE"]
    clock.advance(61)
    assert propose(desk, position=0.0)["status"] == "approved"


def test_stale_candles_and_lost_quorum_trip_reducing(state_url: str, clock: Clock) -> None:
    ess = {"stale_candles_s": 10, "stale_bars": 0, "quorum_lost_s": 30}  # seconds only
    desk = make_desk(state_url, clock, ess=ess)
    propose(desk)
    clock.advance(5)
    propose(desk, make_signal(as_of="2025-01-01T00:05:00+00:00"))
    clock.advance(9)
    assert desk.check_monitors(True, "").state == "ACTIVE"
    assert desk.freshness()[0]["age_s"] == 9
    clock.advance(2)
    status = desk.check_monitors(True, "")
    assert (status.state, status.trigger) == ("REDUCING", "stale_data")
    desk.reset("feed is back", "dave")
    assert desk.check_monitors(False, "2 of 4 healthy").state == "ACTIVE"
    clock.advance(31)
    propose(desk, make_signal(as_of="2025-01-01T00:10:00+00:00"))  # fresh again
    status = desk.check_monitors(False, "2 of 4 healthy")
    assert (status.state, status.trigger) == ("REDUCING", "quorum")
    assert "2 of 4 healthy" in status.reason


BAD: list[tuple[str, str, Callable[[SafetyDesk], object]]] = [
    ("account-negative", "equity", lambda d: d.report_account(-1.0)),
    ("account-nan", "equity", lambda d: d.report_account(math.nan)),
    ("fill-unknown-symbol", "symbol", lambda d: d.report_fill(FillInput("NOPE", "BUY", 1, 1))),
    (
        "fill-no-position",
        "position_id",
        lambda d: d.report_fill(FillInput("SYN", "SELL", 1, 1, position_id="missing")),
    ),
    ("fill-nan-price", "price", lambda d: d.report_fill(FillInput("SYN", "BUY", 1, math.nan))),
    ("fill-zero-qty", "quantity", lambda d: d.report_fill(FillInput("SYN", "BUY", 0, 1))),
    ("propose-unknown-symbol", "symbol", lambda d: propose(d, make_signal(symbol="NOPE"))),
    ("propose-negative-equity", "equity", lambda d: propose(d, equity=-5.0)),
    ("propose-nan-position", "position", lambda d: propose(d, position=math.nan)),
    (
        "propose-signal-mismatch",
        "signal.timeframe",
        lambda d: d.propose(ProposalInput("SYN", "1h", EQUITY), make_signal()),
    ),
    ("trip-empty-reason", "reason", lambda d: d.trip(" ", "x")),
]


@pytest.mark.parametrize(("field", "call"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_writes_nothing(
    desk: SafetyDesk, field: str, call: Callable[[SafetyDesk], object]
) -> None:
    desk.report_account(EQUITY)
    desk.report_fill(FillInput("SYN", "BUY", 1.0, 100.0))
    before = counts(desk)
    with pytest.raises(SafetyInputError) as info:
        call(desk)
    assert str(info.value).startswith(f"{field}:")
    assert info.value.loc[-1] == field.split(".")[-1]
    assert counts(desk) == before


def test_staleness_is_counted_in_bars_of_the_symbols_timeframe(
    state_url: str, clock: Clock
) -> None:
    """Issue 27: an idle daily symbol is not stale after 901 s (the old fixed limit); it is
    after 2 daily bars plus the 900 s grace, and a 5m symbol after 2 * 300 s + 900 s."""
    desk = make_desk(state_url, clock)
    propose(desk, make_signal(symbol="SYN", timeframe="1d"))
    clock.advance(901)
    assert desk.check_monitors(True, "").state == "ACTIVE"
    (row,) = desk.freshness()
    assert row["stale_after_s"] == 2 * 86_400 + 900 and not row["stale"]
    clock.advance(2 * 86_400)
    status = desk.check_monitors(True, "")
    assert (status.state, status.trigger) == ("REDUCING", "stale_data")
    assert "over 2 1d bars + 900 s (ess.stale_bars, ess.stale_candles_s" in status.reason
    assert make_desk(state_url, clock).freshness()[0]["stale"]


def test_the_ess_triggers_are_configured_protection_objects(state_url: str, clock: Clock) -> None:
    """[ess] builds the protection list; 0 turns one off; each names its trigger and state."""
    from ai_engine.contract.bodies import EssState as WireState
    from ai_engine.safety.ess import EssState
    from ai_engine.safety.protections import Event, protections

    desk = make_desk(state_url, clock, ess={"losing_trades": 0, "quorum_lost_s": 0})
    names = [(p.trigger, p.trips_to, sorted(p.events)) for p in desk.protections]
    assert names == [
        ("drawdown", EssState.HALTED, [Event.ACCOUNT, Event.FILL]),
        ("limit_breach", EssState.REDUCING, [Event.FILL]),
        ("stale_data", EssState.REDUCING, [Event.PERIODIC]),
    ]
    assert [p.trigger for p in protections(make_desk(state_url, clock).config.ess)] == [
        "drawdown",
        "losing_trades",
        "limit_breach",
        "quorum",
        "stale_data",
    ]
    assert list(WireState.__args__) == [s.value for s in EssState]  # one list of states
    desk.report_account(10_000.0)
    desk.report_account(7_000.0)  # the drawdown protection fires on the account event
    assert (desk.ess_status().state, desk.ess_status().trigger) == ("HALTED", "drawdown")

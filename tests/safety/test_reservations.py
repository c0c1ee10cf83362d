"""Limits that hold across approvals: reservations, breaches by fills, trusted marks, numbers a
book can hold, and idempotent fills (every test on SQLite and on the real PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal as signals
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from ai_engine.errors import IdempotencyConflict, SafetyInputError
from ai_engine.safety import FillInput, ProposalInput, SafetyDesk
from ai_engine.safety import tables as t
from ai_engine.safety.positions import PositionBook
from ai_engine.service.position_schemas import ReportedPositionIn
from ai_engine.service.safety_schemas import AccountIn, FillIn, ProposalIn
from safety.conftest import Clock, make_desk
from safety.signals import make_signal

EQUITY = 10_000.0
SYMBOLS = [f"S{i:02d}" for i in range(20)]
LIMITS: dict[str, object] = {
    "symbols": SYMBOLS,
    "max_position": 0.5,
    "max_gross": 1.0,
    "max_net": 1.0,
    "max_open_positions": 50,
    "max_changes_per_minute": 10_000,
    "min_notional": 0.0,
}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def buy(desk: SafetyDesk, symbol: str, owner: str = "engine") -> dict[str, Any]:
    return desk.propose(
        ProposalInput(symbol, "5m", EQUITY, price=100.0, owner=owner),
        make_signal(symbol=symbol, lower=-0.001, upper=0.004),
    )


def live_exposure(desk: SafetyDesk, now: float) -> dict[str, float]:
    """Booked plus reserved exposure per symbol, as fractions of EQUITY."""
    with desk.store.read() as conn:
        c = t.proposals.c
        rows = conn.execute(
            sa.select(c.symbol, c.reserved_notional).where(
                c.released_at.is_(None), c.valid_until > now
            )
        )
        out: dict[str, float] = {}
        for symbol, notional in rows:
            out[symbol] = out.get(symbol, 0.0) + (notional or 0.0) / EQUITY
        for row in conn.execute(sa.select(t.positions).where(t.positions.c.closed_at.is_(None))):
            out[row.symbol] = out.get(row.symbol, 0.0) + row.quantity * row.last_price / EQUITY
    return out


def test_approvals_reserve_so_that_19_symbols_stay_within_the_gross_cap(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    answers = [buy(desk, symbol) for symbol in SYMBOLS[:19]]
    assert answers[0]["status"] == "clipped" and answers[0]["target"] == pytest.approx(0.5)
    assert answers[0]["reservation"]["notional"] == pytest.approx(5_000.0)
    assert answers[1]["target"] == pytest.approx(0.5)
    assert all(a["target"] == 0.0 and "LIMIT_GROSS" in a["reasons"] for a in answers[2:])
    assert sum(abs(v) for v in live_exposure(desk, clock()).values()) <= 1.0 + 1e-9
    # filling the approvals books them and uses up their reservations: still within the cap
    for a in answers[:2]:
        desk.report_fill(FillInput(a["symbol"], "BUY", 50, 100.0, proposal_id=a["id"]))
    assert desk.reservations() == []
    assert buy(desk, SYMBOLS[19])["target"] == 0.0
    # a reservation expires at its valid_until; then the room is free again
    desk.report_fill(FillInput(SYMBOLS[0], "SELL", 50, 100.0))
    again = buy(desk, SYMBOLS[19])
    assert again["target"] == pytest.approx(0.5) and again["reservation"] is not None
    clock.advance(3601)
    assert desk.reservations() == []


def test_the_same_owners_next_proposal_replaces_its_reservation(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    for _ in range(5):
        assert buy(desk, "S00")["target"] == pytest.approx(0.5)
    (only,) = desk.reservations()
    assert only["notional"] == pytest.approx(5_000.0)
    other = buy(desk, "S00", owner="strat-b")  # another owner: the symbol's room is taken
    assert other["pending"] == pytest.approx(0.5) and other["target"] == pytest.approx(0.5)
    assert other["delta"] == pytest.approx(0.0) and other["reservation"] is None


PROPOSER = textwrap.dedent(
    """
    import json, sys, threading, time
    sys.path.insert(0, {src!r})
    from ai_engine.safety import ProposalInput, SafetyConfig, SafetyDesk, StateStore
    url, limits, symbols, start = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:], None
    desk = SafetyDesk(StateStore(url), SafetyConfig.from_json({{"limits": limits}}))
    desk.store.upgrade()
    signal = lambda s: {{"symbol": s, "timeframe": "5m", "horizon": 12, "action": "BUY",
        "confidence": 1.0, "expected_return": 0.0015, "forecast": [0.0015] * 12,
        "forecast_lower": [-0.001] * 12, "forecast_upper": [0.004] * 12,
        "release": "r", "edge": {{"enabled": True, "horizon": 12}}, "decision": {{}},
        "as_of": ""}}
    barrier, out = threading.Barrier(len(symbols)), []
    def run(s):
        barrier.wait()
        out.append(desk.propose(ProposalInput(s, "5m", {equity}, price=100.0), signal(s)))
    threads = [threading.Thread(target=run, args=(s,)) for s in symbols]
    [th.start() for th in threads]
    [th.join() for th in threads]
    print(json.dumps([a["target"] for a in out]))
    """
)


def test_20_concurrent_proposals_over_two_processes_never_pass_the_caps(
    state_url: str, clock: Clock, tmp_path: Path
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)  # migrated, ESS row created
    script = tmp_path / "proposer.py"
    script.write_text(PROPOSER.format(src=SRC, equity=EQUITY))
    halves = [SYMBOLS[:10], SYMBOLS[10:]]
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), state_url, json.dumps(LIMITS), *half],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in halves
    ]
    targets = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        targets += json.loads(out)
    assert len(targets) == 20
    assert all(abs(x) <= 0.5 + 1e-9 for x in targets)
    assert sum(abs(x) for x in targets) <= 1.0 + 1e-9, targets
    exposure = live_exposure(desk, time.time())
    assert sum(abs(v) for v in exposure.values()) <= 1.0 + 1e-9, exposure


def test_a_fill_past_a_cap_is_booked_answers_limit_breached_and_moves_the_ess_to_reducing(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    desk.report_account(EQUITY)
    answers = [desk.report_fill(FillInput("S00", "BUY", 25, 100.0)) for _ in range(20)]
    assert answers[1]["reasons"] == [] and answers[2]["reasons"] == ["LIMIT_BREACHED"]
    assert "max_position" in answers[2]["breaches"][0]
    assert answers[-1]["position"]["quantity"] == pytest.approx(500)  # every fill is booked
    status = desk.ess_status()
    assert status.state == "REDUCING" and status.trigger == "limit_breach"
    assert any("max_gross" in b for b in desk.breaches())
    # REDUCING: the next proposal may only reduce
    assert buy(desk, "S01")["target"] == 0.0


def test_a_strangers_price_marks_nothing_and_triggers_no_exit(state_url: str, clock: Clock) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    opened = buy(desk, "S00", owner="strat-a")
    desk.report_fill(FillInput("S00", "BUY", 10, 100.0, proposal_id=opened["id"]))
    book = PositionBook(desk.store, desk.clock)
    desk.propose(
        ProposalInput("S00", "5m", EQUITY, price=1.0, owner="stranger"),
        make_signal("HOLD", symbol="S00"),
    )
    assert book.exits("strat-a") == []
    (position,) = desk.account()["positions"]
    assert position["last_price"] == 100.0
    desk.propose(  # candles the service validated do mark
        ProposalInput("S00", "5m", EQUITY, owner="stranger", mark=1.0),
        make_signal("HOLD", symbol="S00"),
    )
    assert [e["reason"] for e in book.exits("strat-a")] == ["stop_loss"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1, "price": 1e308}, "price"),
        ({"quantity": 1e16, "price": 1.0}, "quantity"),
        ({"quantity": 1, "price": 1.0, "fee": "1.5"}, "fee"),
        ({"quantity": 1, "price": 1.0, "fee": True}, "fee"),
        ({"quantity": 1, "price": 1.0, "fee": 1e300}, "fee"),
    ],
)
def test_numbers_a_book_cannot_hold_are_422_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        FillIn.model_validate({"symbol": "S00", "side": "BUY", **body})
    assert [e["loc"][0] for e in caught.value.errors()] == [field]
    with pytest.raises(ValidationError):
        AccountIn.model_validate({"equity": 1e308})
    with pytest.raises(ValidationError) as tiny:
        ProposalIn.model_validate(
            {"symbol": "S00", "timeframe": "5m", "equity": 1e-300, "signal": make_signal()}
        )
    assert [e["loc"][0] for e in tiny.value.errors()] == ["equity"]
    with pytest.raises(ValidationError) as huge:
        ReportedPositionIn.model_validate({"symbol": "S00", "quantity": 1e300, "price": 1.0})
    assert [e["loc"][0] for e in huge.value.errors()] == ["quantity"]


def test_the_desk_itself_refuses_unbounded_numbers_and_writes_nothing(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    for fill in (
        FillInput("S00", "BUY", 1, 1e308),
        FillInput("S00", "SELL", 1e20, 1.0),
        FillInput("S00", "BUY", 1, 1.0, fee=True),  # type: ignore[arg-type]
    ):
        with pytest.raises(SafetyInputError):
            desk.report_fill(fill)
    with pytest.raises(SafetyInputError, match="equity"):
        desk.report_account(1e308)
    assert desk.fills() == [] and desk.account()["snapshot"] is None


def test_a_retried_fill_id_books_once_and_returns_the_first_answer(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    desk.report_account(EQUITY)
    first = desk.report_fill(FillInput("S00", "BUY", 1, 100.0, owner="bot", fill_id="ord-1"))
    clock.advance(5)
    again = desk.report_fill(FillInput("S00", "BUY", 1, 100.0, owner="bot", fill_id="ord-1"))
    assert again == first and len(desk.fills()) == 1
    other_owner = desk.report_fill(FillInput("S01", "BUY", 1, 100.0, owner="b2", fill_id="ord-1"))
    assert other_owner["position"]["symbol"] == "S01" and len(desk.fills()) == 2
    with pytest.raises(IdempotencyConflict, match="ord-1"):
        desk.report_fill(FillInput("S00", "BUY", 2, 100.0, owner="bot", fill_id="ord-1"))
    assert len(desk.fills()) == 2


FILLER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {src!r})
    from ai_engine.safety import FillInput, SafetyConfig, SafetyDesk, StateStore
    desk = SafetyDesk(StateStore(sys.argv[1]), SafetyConfig.from_json({{"limits": {{
        "symbols": ["S00"], "max_position": 1e9, "max_gross": 1e9, "max_net": 1e9}}}}))
    desk.store.upgrade()
    for i in range(100000):
        desk.report_fill(FillInput("S00", "BUY", 1, 100.0, owner="bot", fill_id=f"f{{i}}"))
        print(i, flush=True)
    """
)


def test_fill_ids_book_once_across_kill_9_and_a_retry_of_everything_unacknowledged(
    state_url: str, clock: Clock, tmp_path: Path
) -> None:
    desk = make_desk(state_url, clock, limits={"symbols": ["S00"]})
    script = tmp_path / "filler.py"
    script.write_text(FILLER.format(src=SRC))
    proc = subprocess.Popen(
        [sys.executable, str(script), state_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:  # wait for real progress, however slow the machine is
        acked = int(line)
        if acked >= 30:
            break
    os.kill(proc.pid, signals.SIGKILL)
    proc.wait()
    acked = max([acked, *(int(line) for line in proc.stdout)])  # printed before the kill
    # the bot retries from its last acknowledged fill, plus a few it never heard back about
    for i in range(max(acked - 5, 0), acked + 10):
        desk.report_fill(FillInput("S00", "BUY", 1, 100.0, owner="bot", fill_id=f"f{i}"))
    with desk.store.read() as conn:
        ids = [r.fill_id for r in conn.execute(sa.select(t.fills.c.fill_id))]
    assert len(ids) == len(set(ids)) == acked + 10
    (position,) = desk.account()["positions"]
    assert position["quantity"] == pytest.approx(acked + 10)


def test_a_trader_keys_report_settles_and_marks_its_own_owners_positions_only(
    state_url: str, clock: Clock
) -> None:
    """A report made with a trader key (``scope``) leaves every other owner's position as it
    is: leaving one out closes nothing, its prices mark nothing (the admin's report settles all)."""
    from ai_engine.safety.ownership import ReportedPosition

    desk = make_desk(state_url, clock, limits=LIMITS)
    desk.report_fill(FillInput("S00", "BUY", 1, 100.0, owner="engine"))
    desk.report_fill(FillInput("S00", "BUY", 2, 100.0, owner="strat-b"))
    book = PositionBook(desk.store, desk.clock)
    found = book.report([ReportedPosition("S00", 1.0, 1.0, owner="engine")], scope="engine")
    assert found == []  # its own position as stored: nothing to settle
    positions = {p["owner"]: p for p in desk.account()["positions"]}
    assert positions["strat-b"]["quantity"] == 2 and positions["strat-b"]["last_price"] == 100.0
    assert positions["engine"]["last_price"] == 1.0
    mine = ReportedPosition("S00", 1.0, 1.0, owner="engine")
    external = book.report([mine, ReportedPosition("S01", 3.0, 50.0)], scope="engine")
    assert [d["owner"] for d in external] == ["EXTERNAL"]  # opened as EXTERNAL
    # naming no owner, a trader's report matches the EXTERNAL position but never settles it
    book.report([mine, ReportedPosition("S01", 0.0, 50.0)], scope="engine")
    assert any(p["symbol"] == "S01" for p in desk.account()["positions"])
    book.report([], scope="engine")  # the engine's bot holds nothing now
    assert sorted(p["owner"] for p in desk.account()["positions"]) == ["EXTERNAL", "strat-b"]
    book.report([])  # the admin's empty report settles the whole book
    assert desk.account()["positions"] == []


def test_a_partial_fill_uses_up_part_of_the_reservation_and_a_reversal_releases_it(
    state_url: str, clock: Clock
) -> None:
    desk = make_desk(state_url, clock, limits=LIMITS)
    proposal = buy(desk, "S00")
    assert proposal["reservation"]["notional"] == pytest.approx(5_000.0)
    desk.report_fill(FillInput("S00", "BUY", 20, 100.0))  # 2,000 of the 5,000 reserved
    (left,) = desk.reservations()
    assert left["notional"] == pytest.approx(3_000.0)
    assert buy(desk, "S01")["target"] == pytest.approx(0.5)  # gross 0.2 + 0.3 + 0.5 = 1.0
    desk.report_fill(FillInput("S00", "SELL", 5, 100.0))  # the owner changed course on S00
    assert [r["symbol"] for r in desk.reservations()] == ["S01"]
    with desk.store.read() as conn:
        why = conn.execute(
            sa.select(t.proposals.c.released_by).where(t.proposals.c.id == proposal["id"])
        ).scalar_one()
    assert why == "reversed"


def test_a_retried_fill_id_on_another_owners_position_gets_its_first_answer(
    state_url: str, clock: Clock
) -> None:
    """The admin books a fill (no owner named) on strat-a's position by its id: the retry is
    found under the client the fill was reported for, and answers as the first time."""
    desk = make_desk(state_url, clock, limits=LIMITS)
    opened = desk.report_fill(FillInput("S00", "BUY", 2, 100.0, owner="strat-a"))["position"]
    fill = FillInput("S00", "SELL", 1, 101.0, position_id=opened["id"], fill_id="ord-9")
    first = desk.report_fill(fill)
    again = desk.report_fill(fill)
    assert again == first and again["position"]["owner"] == "strat-a"
    assert len(desk.fills()) == 2

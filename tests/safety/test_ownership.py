"""Exit ownership: owners from proposals, EXTERNAL positions from the bot's reports, 409 on a
second claim, exits at the stop level and the holding limit, the check at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ai_engine.errors import OwnershipConflict
from ai_engine.safety import FillInput, ProposalInput, SafetyDesk
from ai_engine.safety.ownership import EXTERNAL, ReportedPosition
from ai_engine.safety.positions import PositionBook
from safety.conftest import Clock
from safety.service_helpers import ADMIN, SYMBOL, client_for, registry_in
from safety.signals import make_signal, trusted


def book_of(desk: SafetyDesk) -> PositionBook:
    return PositionBook(desk.store, desk.clock)


def propose(desk: SafetyDesk, owner: str, action: str = "BUY", price: float = 100.0) -> int:
    proposal = desk.propose(
        ProposalInput("SYN", "5m", 10_000.0, price=price, owner=owner),
        make_signal(action, lower=-0.01, upper=0.012),
    )
    assert proposal["owner"] == owner and proposal["status"] != "denied", proposal
    return int(proposal["id"])


def test_a_fill_after_a_proposal_opens_a_position_of_its_owner_with_its_exits(
    desk: SafetyDesk, clock: Clock
) -> None:
    proposal_id = propose(desk, "strat-a")
    clock.advance(10)
    opened = desk.report_fill(FillInput("SYN", "BUY", 5, 100.0, owner="strat-a"))["position"]
    assert opened["owner"] == "strat-a" and opened["proposal_id"] == proposal_id
    assert opened["stop_loss"] == pytest.approx(100.0 * 2.718281828 ** (-0.01))
    book = book_of(desk)
    assert book.exits("strat-a") == [] and book.exits("strat-b") == []

    desk.propose(ProposalInput("SYN", "5m", 10_000.0, mark=98.0), make_signal("HOLD"))  # a mark
    (exit_,) = book.exits("strat-a")
    assert exit_["reason"] == "stop_loss" and exit_["side"] == "SELL" and exit_["quantity"] == 5
    assert exit_["position_id"] == opened["id"] and exit_["last_price"] == 98.0

    clock.advance(12 * 300 + 1)
    assert book.exits("strat-a")[0]["reasons"] == ["stop_loss", "max_holding"]


def test_a_short_is_exited_when_the_price_rises_past_its_stop(
    desk: SafetyDesk, clock: Clock
) -> None:
    proposal_id = propose(desk, "strat-s", action="SELL")
    fill = FillInput("SYN", "SELL", 2, 100.0, proposal_id=proposal_id)
    opened = desk.report_fill(fill)["position"]
    assert opened["owner"] == "strat-s" and opened["stop_loss"] > 100.0
    book = book_of(desk)
    assert book.exits("strat-s") == []
    clock.advance(1)
    desk.report_fill(FillInput("SYN", "SELL", 1, 101.5, owner="strat-s"))  # marks at 101.5
    (exit_,) = book.exits("strat-s")
    assert exit_["side"] == "BUY" and exit_["quantity"] == 3 and exit_["reason"] == "stop_loss"


def test_reported_positions_no_proposal_opened_are_external_and_never_exited(
    desk: SafetyDesk, clock: Clock
) -> None:
    book = book_of(desk)
    found = book.report([ReportedPosition("SYN", 3.0, 100.0)])
    assert [(d["kind"], d["owner"], d["action"]) for d in found] == [
        ("unknown_position", EXTERNAL, "opened")
    ]
    positions = book.positions()
    assert positions["positions"] == [] and positions["external"][0]["owner"] == EXTERNAL
    clock.advance(10**6)
    desk.propose(ProposalInput("SYN", "5m", 10_000.0, mark=1.0), make_signal("HOLD"))
    assert book.exits("engine") == []
    with pytest.raises(Exception, match="EXTERNAL positions are never proposed"):
        book.exits(EXTERNAL)

    # the same report again: no difference; a smaller one resizes, none closes
    assert book.report([ReportedPosition("SYN", 3.0, 1.0)]) == []
    assert book.report([ReportedPosition("SYN", 1.0, 1.0)])[0]["action"] == "resized"
    assert book.report([])[0]["kind"] == "missing_from_report"
    assert book.positions()["external"] == []


def test_a_second_claim_on_a_position_is_a_conflict(desk: SafetyDesk) -> None:
    propose(desk, "strat-a")
    owned = desk.report_fill(FillInput("SYN", "BUY", 5, 100.0, owner="strat-a"))["position"]
    with pytest.raises(OwnershipConflict, match="belongs to 'strat-a'; 'strat-b' claims it"):
        desk.report_fill(
            FillInput("SYN", "SELL", 1, 100.0, position_id=owned["id"], owner="strat-b")
        )
    book = book_of(desk)
    with pytest.raises(OwnershipConflict, match="belongs to 'strat-a'; 'strat-b' claims it"):
        book.claim(owned["id"], "strat-b")
    with pytest.raises(OwnershipConflict, match="the report claims it for 'strat-b'"):
        book.report([ReportedPosition("SYN", 5.0, 100.0, owner="strat-b")])
    assert book.positions()["positions"][0]["quantity"] == 5  # nothing written


def test_differences_with_the_last_report_are_found_at_start(desk: SafetyDesk) -> None:
    book = book_of(desk)
    book.report([ReportedPosition("SYN", 3.0, 100.0)])
    external = book.positions()["external"][0]
    desk.report_fill(FillInput("SYN", "BUY", 1, 100.0, position_id=external["id"]))
    desk.report_fill(FillInput("ALT", "BUY", 2, 10.0))
    found = book_of(desk).reconcile()
    assert sorted((d["kind"], d["symbol"], d["stored"], d["reported"]) for d in found) == [
        ("missing_from_report", "ALT", 2.0, 0.0),
        ("quantity_differs", "SYN", 4.0, 3.0),
    ]
    assert all(d["report_at"] for d in found)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_in(tmp_path)


def test_positions_exits_and_claims_over_http(
    registry: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with client_for(registry, url) as client:
        report = client.post(
            "/v1/positions", json={"positions": [{"symbol": SYMBOL, "quantity": 2, "price": 50}]}
        )
        assert report.status_code == 200, report.text
        (diff,) = report.json()["differences"]
        assert diff["kind"] == "unknown_position" and diff["owner"] == EXTERNAL
        listed = client.get("/v1/positions").json()
        assert listed["positions"] == [] and listed["external"][0]["owner"] == EXTERNAL
        position_id = listed["external"][0]["id"]
        exits = client.get("/v1/exits", params={"owner": "engine"})
        assert exits.status_code == 200 and exits.json()["exits"] == []
        assert client.get("/v1/exits", params={"owner": EXTERNAL}, headers=ADMIN).status_code == 422
        stranger = client.get("/v1/exits", params={"owner": "strat-a"})  # not the key's owner
        assert stranger.status_code == 403

        claim = f"/v1/positions/{position_id}/claim"
        assert client.post(claim, json={"owner": "strat-a"}).status_code == 401
        first = client.post(claim, json={"owner": "strat-a"}, headers=ADMIN)
        assert first.status_code == 200 and first.json()["owner"] == "strat-a"
        second = client.post(claim, json={"owner": "strat-b"}, headers=ADMIN)
        assert second.status_code == 409, second.text
        assert second.json()["error"].startswith("OwnershipConflict: position")
        fill = {"symbol": SYMBOL, "side": "SELL", "quantity": 1, "price": 50}
        clash = client.post(
            "/v1/fills", json={**fill, "position_id": position_id, "owner": "b"}, headers=ADMIN
        )
        assert clash.status_code == 409
        assert client.post("/v1/fills", json={**fill, "proposal_id": 999}).status_code == 422
        given = client.post(
            "/v1/risk/proposal",
            json={
                "symbol": SYMBOL,
                "timeframe": "5m",
                "signal": trusted(make_signal(symbol=SYMBOL), registry),
                "equity": 10_000,
                "owner": "strat-c",
            },
            headers=ADMIN,  # the admin key may act for any owner
        )
        assert given.status_code == 200 and given.json()["owner"] == "strat-c"
        assert given.json()["valid_until"] and given.json()["schema_version"] == "1"
        # a fill booked after the report (for its owner strat-a): the start compares and logs it
        booked = client.post("/v1/fills", json={**fill, "position_id": position_id}, headers=ADMIN)
        assert booked.status_code == 200, booked.text
    with (
        caplog.at_level(logging.WARNING, logger="ai_engine.service"),
        client_for(registry, url) as client,
    ):
        at_start = client.get("/v1/positions").json()["at_start"]
    assert [(d["kind"], d["stored"], d["reported"]) for d in at_start] == [
        ("quantity_differs", 1.0, 2.0)
    ]
    logged = [r for r in caplog.records if getattr(r, "event", "") == "position_difference"]
    assert len(logged) == 1 and logged[0].kind == "quantity_differs"

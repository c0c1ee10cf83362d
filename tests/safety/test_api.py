"""The safety routes through the app (TestClient), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ai_engine.registry import Registry
from ai_engine.safety import StateStore
from ai_engine.safety import tables as t
from safety.service_helpers import ADMIN, SYMBOL, client_for, proposal_body, registry_in
from safety.signals import make_signal, trusted, with_edge


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_in(tmp_path)


def counts(url: str) -> dict[str, int]:
    store = StateStore(url)
    try:
        with store.read() as conn:
            return {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in t.metadata.tables.items()
            }
    finally:
        store.dispose()


def test_account_fills_proposals_limits_status(registry: Path, state_url: str) -> None:
    with client_for(registry, state_url) as client:
        assert client.post("/v1/account", json={"equity": 10_000}).status_code == 200
        fill = client.post(
            "/v1/fills", json={"symbol": SYMBOL, "side": "BUY", "quantity": 5, "price": 100}
        )
        assert fill.status_code == 200, fill.text
        assert fill.json()["position"]["quantity"] == 5
        account = client.get("/v1/account").json()
        assert account["snapshot"]["equity"] == 10_000 and len(account["positions"]) == 1
        assert len(client.get("/v1/fills").json()["fills"]) == 1

        from_candles = client.post("/v1/risk/proposal", json=proposal_body())
        assert from_candles.status_code == 200, from_candles.text
        body = from_candles.json()
        assert body["release"] and body["current"] == pytest.approx(0.05)
        assert body["target"] == 0.0 and body["reasons"][0] in ("HOLD", "NO_EDGE", "NO_INTERVAL")

        signal = trusted(make_signal(symbol=SYMBOL), registry)
        given = client.post(
            "/v1/risk/proposal",
            json={"symbol": SYMBOL, "timeframe": "5m", "signal": signal, "equity": 10_000},
        )
        assert given.status_code == 200, given.text
        # the release's edge verdict sizes a client's signal, never the signal's own (issue 23)
        release_edge = bool(Registry(registry).resolve("production").evaluation["edge"]["enabled"])
        assert (given.json()["target"] > 0) == release_edge
        assert given.json()["status"] == "approved"

        limits = client.get("/v1/limits").json()
        assert limits["limits"]["max_gross"] == 1.0 and limits["ess"]["initial_state"] == "ACTIVE"
        status = client.get("/v1/status").json()
        assert status["ess"]["state"] == "ACTIVE" and status["release"]["ready"]
        assert [f["symbol"] for f in status["freshness"]] == [SYMBOL]
        if not release_edge:  # the tiny release's verdict depends on its synthetic data
            assert not status["trading"] and "edge" in " ".join(status["why"])
        metrics = client.get("/metrics").text
        assert 'ai_engine_ess_state{state="ACTIVE"} 1.0' in metrics
        assert 'ai_engine_risk_proposals_total{status="approved"} 2.0' in metrics


def test_trip_and_reset_need_the_admin_token_and_gate_proposals(
    registry: Path, state_url: str
) -> None:
    signal_body = {
        "symbol": SYMBOL,
        "timeframe": "5m",
        "signal": trusted(make_signal(symbol=SYMBOL), registry, with_edge(registry)),
        "equity": 10_000,
    }
    with client_for(registry, state_url) as client:
        assert client.post("/v1/ess/trip", json={"reason": "x"}).status_code == 401
        tripped = client.post(
            "/v1/ess/trip", json={"reason": "exchange outage", "actor": "ops"}, headers=ADMIN
        )
        assert tripped.status_code == 200, tripped.text
        # the actor is the key's identity, whatever the body says (issue 23)
        assert tripped.json()["state"] == "HALTED" and tripped.json()["actor"] == "admin"
        denied = client.post("/v1/risk/proposal", json=signal_body).json()
        assert denied["reasons"] == ["ESS_HALTED"] and denied["target"] == 0.0
        ess = client.get("/v1/ess").json()
        assert ess["reason"] == "exchange outage" and ess["transitions"][0]["trigger"] == "manual"
        status = client.get("/v1/status").json()
        assert status["why"][0].startswith("ESS HALTED")
        reset = client.post("/v1/ess/reset", json={"reason": "resolved"}, headers=ADMIN)
        assert reset.json()["state"] == "ACTIVE"
        assert client.post("/v1/risk/proposal", json=signal_body).json()["status"] == "approved"
        metrics = client.get("/metrics").text
        assert (
            'ai_engine_ess_transitions_total{from_state="ACTIVE",to_state="HALTED",'
            'trigger="manual"} 1.0' in metrics
        )


def test_drawdown_reported_through_fills_trips_the_ess(registry: Path, state_url: str) -> None:
    with client_for(registry, state_url, "[ess]\nmax_drawdown = 0.1\n") as client:
        client.post("/v1/account", json={"equity": 10_000})
        opened = client.post(
            "/v1/fills", json={"symbol": SYMBOL, "side": "BUY", "quantity": 100, "price": 100}
        ).json()
        client.post(
            "/v1/fills",
            json={
                "symbol": SYMBOL,
                "side": "SELL",
                "quantity": 100,
                "price": 88,
                "position_id": opened["position"]["id"],
            },
        )
        ess = client.get("/v1/ess").json()
        assert (ess["state"], ess["trigger"], ess["actor"]) == ("HALTED", "drawdown", "engine")


def _raw(body: dict[str, Any], field: str, literal: str) -> str:
    body = {**body, field: "__LITERAL__"}
    return json.dumps(body).replace('"__LITERAL__"', literal)


FILL = {"symbol": SYMBOL, "side": "SELL", "quantity": 1, "price": 100}
BAD = [
    ("account-negative", "/v1/account", {"equity": -1}, "equity"),
    ("account-nan", "/v1/account", _raw({}, "equity", "NaN"), "equity"),
    ("account-boolean", "/v1/account", {"equity": True}, "equity"),
    ("account-numeric-string", "/v1/account", {"equity": "10000"}, "equity"),
    ("fill-boolean-price", "/v1/fills", {**FILL, "price": True}, "price"),
    ("fill-unknown-symbol", "/v1/fills", {**FILL, "symbol": "NOPE"}, "symbol"),
    ("fill-no-position", "/v1/fills", {**FILL, "position_id": "abc"}, "position_id"),
    ("fill-nan-price", "/v1/fills", _raw(FILL, "price", "NaN"), "price"),
    ("proposal-unknown-symbol", "/v1/risk/proposal", proposal_body(symbol="NOPE"), "symbol"),
    ("proposal-negative-equity", "/v1/risk/proposal", proposal_body(equity=-1), "equity"),
    (
        "proposal-infinite-position",
        "/v1/risk/proposal",
        _raw(proposal_body(), "position", "Infinity"),
        "position",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_4xx_naming_the_field_and_writes_nothing(
    registry: Path, state_url: str, path: str, body: Any, field: str
) -> None:
    with client_for(registry, state_url) as client:
        before = counts(state_url)
        if isinstance(body, str):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        answer = response.json()
        assert field in answer["error"]
        assert any(item["loc"][-1] == field for item in answer["detail"]), answer
        assert counts(state_url) == before

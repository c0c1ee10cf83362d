"""Signals the desk trusts: a client's signal sizes a proposal only after the contract check
against the release that answers its symbol, and sizing takes the release's edge verdict and
decision horizon, never the client's (issue 23, item 3)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ai_engine.registry import Registry
from safety.service_helpers import SYMBOL, TIMEFRAME, client_for, registry_in
from safety.signals import make_signal, trusted, with_edge
from service.helpers import candle_rows

BAR_MS = 300_000


def _propose(client: TestClient, signal: dict[str, Any]) -> Any:
    body = {"symbol": SYMBOL, "timeframe": TIMEFRAME, "signal": signal, "equity": 10_000.0}
    return client.post("/v1/risk/proposal", json=body)


def _fresh_rows() -> list[dict[str, Any]]:
    """The synthetic rows moved so that the last one is the bar open now."""
    rows = candle_rows()
    shift = (int(time.time() * 1000) // BAR_MS) * BAR_MS - rows[-1]["t"]
    return [{**row, "t": row["t"] + shift} for row in rows]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_in(tmp_path)


def _refused(answer: Any, code: str) -> str:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error.startswith("ContractViolation: signal: ") and code in error, error
    assert answer.json()["detail"][0]["type"] == code
    return str(error)


def test_a_client_signal_is_trusted_only_if_it_passes_the_contract_check(
    registry: Path, tmp_path: Path
) -> None:
    good = trusted(make_signal(symbol=SYMBOL), registry)
    pinned = good["members"][0]["bundle_sha256"]
    forged = {**make_signal(symbol=SYMBOL), "release": "client-made"}  # issue 23's body
    other = {**good, "release": "r20200101_000000"}
    tampered = {**good, "members": [{**good["members"][0], "bundle_sha256": "0" * 64}]}
    tampered["members"] += good["members"][1:]
    fewer = {**good, "members": good["members"][1:]}
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = {**good, "valid_until": past.isoformat()}
    elsewhere = {**good, "symbol": "ETH/USDT"}
    with client_for(registry, f"sqlite:///{tmp_path / 'state.db'}") as client:
        assert "SCHEMA" in _refused(_propose(client, forged), "SCHEMA")
        assert "release 'r20200101_000000'" in _refused(_propose(client, other), "RELEASE_MISMATCH")
        assert f"production pins {pinned!r}" in _refused(
            _propose(client, tampered), "RELEASE_MISMATCH"
        )
        _refused(_propose(client, fewer), "RELEASE_MISMATCH")
        assert "passed" in _refused(_propose(client, expired), "EXPIRED")
        _refused(_propose(client, elsewhere), "SYMBOL_MISMATCH")
        assert client.get("/v1/account").json()["positions"] == []
        accepted = _propose(client, good)
        assert accepted.status_code == 200, accepted.text
        body = {"symbol": SYMBOL, "timeframe": TIMEFRAME, "candles": _fresh_rows()}
        genuine = client.post("/v1/signal", json=body)
        assert genuine.status_code == 200, genuine.text
        proposal = _propose(client, genuine.json())  # a genuine signal from /v1/signal
        assert proposal.status_code == 200, proposal.text
        assert proposal.json()["release"] == genuine.json()["release"]
        _refused(_propose(client, {**genuine.json(), "valid_until": past.isoformat()}), "EXPIRED")


def test_a_forged_edge_on_a_no_edge_release_sizes_nothing(registry: Path, tmp_path: Path) -> None:
    release_id = with_edge(registry, enabled=False)
    horizon = int(Registry(registry).release(release_id).ensemble["decision_horizon"])
    forged = trusted(make_signal(symbol=SYMBOL, horizon=3, lower=-0.001, upper=0.02), registry)
    assert forged["edge"]["enabled"] is True and forged["action"] == "BUY"
    with client_for(registry, f"sqlite:///{tmp_path / 'state.db'}") as client:
        proposal = _propose(client, forged)
        assert proposal.status_code == 200, proposal.text
        body = proposal.json()
        assert body["release"] == release_id
        assert body["target"] == 0.0
        assert "NO_EDGE" in body["reasons"], body["reasons"]
        assert body["horizon"] == horizon != 3  # the release's decision horizon, not the body's


def test_the_release_edge_sizes_a_trusted_signal(registry: Path, tmp_path: Path) -> None:
    with_edge(registry, enabled=True)
    signal = trusted(make_signal(symbol=SYMBOL, edge=False), registry)  # the body says no edge
    with client_for(registry, f"sqlite:///{tmp_path / 'state.db'}") as client:
        proposal = _propose(client, signal)
        assert proposal.status_code == 200, proposal.text
        assert proposal.json()["target"] > 0, proposal.json()["reasons"]

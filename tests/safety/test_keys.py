"""Keys for writes (issue 23): every state-changing route needs a key whose owner is the
write's, the admin key acts for any owner, writes take application/json only, reads of the
book need a key, the ESS actor is the key's identity, and with no key configured the service
makes one beside the state store (mode 0600) and reuses it."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ai_engine.errors import ConfigError
from ai_engine.safety import StateStore
from ai_engine.safety.keys import (
    configured_keys,
    default_keys_path,
    ensure_key_file,
    parse_inline,
)
from ai_engine.serving.settings import ServiceSettings
from safety.service_helpers import ADMIN, SYMBOL, client_for, proposal_body, registry_in
from service.helpers import TRADER, running_client, settings_for

TABLES = (
    "account_snapshots",
    "fills",
    "positions",
    "proposals",
    "position_reports",
    "ess_transitions",
)
FILL = {"symbol": SYMBOL, "side": "BUY", "quantity": 2, "price": 100.0}
REPORT = {"positions": [{"symbol": SYMBOL, "quantity": 1.5, "price": 100.0}]}
WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/v1/account", {"equity": 1.0}),
    ("/v1/fills", FILL),
    ("/v1/positions", REPORT),
    ("/v1/risk/proposal", proposal_body()),
]
NONE: dict[str, str] = {"Authorization": ""}
"""Overrides the client's default trader key: no key at all."""


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_in(tmp_path)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def counts(url: str) -> dict[str, int]:
    """Rows per table of the state store (what a write would change)."""
    store = StateStore(url)
    try:
        with store.read() as conn:
            return {
                name: conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                for name in TABLES
            }
    finally:
        store.dispose()


def test_a_write_without_a_key_or_with_a_wrong_one_is_401_and_changes_no_row(
    registry: Path, url: str
) -> None:
    with client_for(registry, url) as client:
        before = counts(url)
        for path, body in WRITES:
            for headers in (NONE, {"Authorization": "Bearer not-a-key-of-this-service"}):
                answer = client.post(path, json=body, headers=headers)
                assert answer.status_code == 401, (path, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
                assert "Authorization: Bearer" in answer.json()["error"]
        trip = client.post("/v1/ess/trip", json={"reason": "x"})  # a trader key is no admin
        assert trip.status_code == 401
        assert counts(url) == before
        assert client.get("/v1/ess").json()["state"] == "ACTIVE"


def test_a_trader_key_writes_for_its_own_owner_only(registry: Path, url: str) -> None:
    with client_for(registry, url) as client:
        before = counts(url)
        strangers = [
            ("/v1/fills", {**FILL, "owner": "strat-b"}),
            ("/v1/fills", {**FILL, "owner": "EXTERNAL"}),
            ("/v1/positions", {"positions": [{**REPORT["positions"][0], "owner": "strat-b"}]}),
            ("/v1/risk/proposal", proposal_body(owner="strat-b")),
        ]
        for path, body in strangers:
            answer = client.post(path, json=body)
            assert answer.status_code == 403, (path, answer.text)
            assert "writes for 'engine' only" in answer.json()["error"]
        assert client.get("/v1/exits", params={"owner": "strat-b"}).status_code == 403
        assert counts(url) == before
        # its own owner, named or not: the key's owner is the write's
        booked = client.post("/v1/fills", json={**FILL, "owner": "engine"})
        assert booked.status_code == 200, booked.text
        assert booked.json()["position"]["owner"] == "engine"
        proposal = client.post("/v1/risk/proposal", json=proposal_body())
        assert proposal.status_code == 200 and proposal.json()["owner"] == "engine"


def test_the_admin_key_acts_for_any_owner(registry: Path, url: str) -> None:
    with client_for(registry, url) as client:
        proposal = client.post(
            "/v1/risk/proposal", json=proposal_body(owner="strat-x"), headers=ADMIN
        )
        assert proposal.status_code == 200 and proposal.json()["owner"] == "strat-x"
        fill = client.post("/v1/fills", json={**FILL, "owner": "strat-x"}, headers=ADMIN)
        assert fill.status_code == 200 and fill.json()["position"]["owner"] == "strat-x"
        assert client.post("/v1/account", json={"equity": 5e4}, headers=ADMIN).status_code == 200
        exits = client.get("/v1/exits", params={"owner": "strat-x"}, headers=ADMIN)
        assert exits.status_code == 200
        # without an owner the admin's proposal is engine's, as before keys
        default = client.post("/v1/risk/proposal", json=proposal_body(), headers=ADMIN)
        assert default.json()["owner"] == "engine"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_write_that_is_not_application_json_is_415_and_changes_no_row(
    registry: Path, url: str, content_type: str | None
) -> None:
    import json

    writes = [*WRITES, ("/v1/ess/trip", {"reason": "x"})]
    with client_for(registry, url) as client:
        before = counts(url)
        for path, body in writes:
            headers = {**(ADMIN if "ess" in path else TRADER)}
            if content_type is not None:
                headers["Content-Type"] = content_type
            answer = client.post(path, content=json.dumps(body).encode(), headers=headers)
            assert answer.status_code == 415, (path, answer.text)
            assert "expected Content-Type: application/json" in answer.json()["error"]
        assert counts(url) == before
        # a charset parameter is fine; signals stay as lenient as before (curl -d, tritonclient)
        ok = client.post(
            "/v1/account",
            content=b'{"equity": 100.0}',
            headers={**TRADER, "Content-Type": "application/json; charset=utf-8"},
        )
        assert ok.status_code == 200, ok.text


def test_reads_of_the_book_need_a_key_and_the_rest_stay_open(registry: Path, url: str) -> None:
    with client_for(registry, url) as client:
        for path in ("/v1/account", "/v1/fills", "/v1/positions", "/v1/exits?owner=engine"):
            assert client.get(path, headers=NONE).status_code == 401, path
            assert client.get(path).status_code == 200, path
            assert client.get(path, headers=ADMIN).status_code == 200, path
        for path in ("/v1/ess", "/v1/limits", "/v1/models", "/health/live", "/v1/status"):
            assert client.get(path, headers=NONE).status_code == 200, path
        candles = {k: v for k, v in proposal_body().items() if k != "equity"}
        assert client.post("/v1/signal", json=candles, headers=NONE).status_code == 200


def test_the_ess_actor_is_the_keys_identity(registry: Path, url: str) -> None:
    with client_for(registry, url) as client:
        tripped = client.post(
            "/v1/ess/trip", json={"reason": "drill", "actor": "mallory"}, headers=ADMIN
        )
        assert tripped.status_code == 200 and tripped.json()["actor"] == "admin"
        reset = client.post("/v1/ess/reset", json={"reason": "over"}, headers=ADMIN)
        assert reset.json()["actor"] == "admin"
        actors = [t["actor"] for t in client.get("/v1/ess").json()["transitions"][:2]]
        assert actors == ["admin", "admin"]


def test_models_shows_the_registry_folder_name_only(registry: Path, url: str) -> None:
    with client_for(registry, url) as client:
        shown = client.get("/v1/models").json()["registry"]
        assert shown == registry.name and str(registry.parent) not in client.get("/v1/models").text


def test_without_configured_keys_the_service_makes_one_beside_the_state_store(
    registry: Path, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = registry.parent / "keys"
    assert default_keys_path(registry, url) == path and not path.exists()
    settings = settings_for(registry, state_url=url, trader_keys=None)
    with caplog.at_level(logging.INFO, logger="ai_engine.service"), running_client(settings) as c:
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
        key = configured_keys(str(path)).key_for("engine")
        assert key is not None and key not in caplog.text
        assert f"trader key created at {path}" in caplog.text
        headers = {"Authorization": f"Bearer {key}"}
        assert c.post("/v1/account", json={"equity": 1e4}, headers=headers).status_code == 200
        assert c.post("/v1/account", json={"equity": 1e4}).status_code == 401  # not this key
    first = path.read_text()
    with running_client(settings) as client:  # a later start reuses the file
        assert path.read_text() == first
        answer = client.post("/v1/account", json={"equity": 2e4}, headers=headers)
        assert answer.status_code == 200


def test_a_racing_creator_keeps_the_first_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    first, created = ensure_key_file(path)
    again, created_again = ensure_key_file(path)
    assert created and not created_again and first == again
    assert not [p for p in tmp_path.iterdir() if p.name != "keys"]  # no temporary left


def test_trader_keys_formats_and_refusals(tmp_path: Path) -> None:
    keys = parse_inline("engine=aaaaaaaaaaaaaaaa1, strat-a=bbbbbbbbbbbbbbbb2")
    assert keys.owner_of("bbbbbbbbbbbbbbbb2") == "strat-a" and keys.owner_of("nope") is None
    file = tmp_path / "traders"
    file.write_text("# comment\n\nengine = aaaaaaaaaaaaaaaa1\nengine = cccccccccccccccc3\n")
    from_file = configured_keys(str(file))
    assert from_file.owner_of("cccccccccccccccc3") == "engine" and from_file.owners == ["engine"]
    refused = {
        "engine": "found no '=' and no file there",
        "engine:aaaaaaaaaaaaaaaa1": "found no '=' and no file there",
        "/no/such/keys": "found no '=' and no file at /no/such/keys",
        "engine=short": "expected the key of 'engine' to be 16 to 256 characters",
        "bad owner=aaaaaaaaaaaaaaaa1": "expected an owner like engine",
        "admin=aaaaaaaaaaaaaaaa1": "expected an owner like engine",
        "a=aaaaaaaaaaaaaaaa1,b=aaaaaaaaaaaaaaaa1": "expected one owner per key",
        "engine=aaaaaaaaaaaaaaaa1,oops": "pair 2: expected owner=key pairs",
    }
    for value, message in refused.items():
        with pytest.raises(ConfigError, match=message) as caught:
            configured_keys(value)
        assert "aaaaaaaaaaaaaaaa1" not in str(caught.value)  # a key is never shown
    with pytest.raises(ConfigError, match="AI_ENGINE_TRADER_KEYS: pair 1"):
        ServiceSettings.from_env({"AI_ENGINE_TRADER_KEYS": "engine=short"})
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="expected at least one 'owner = key' lines"):
        configured_keys(str(empty))

"""Acceptance: real ``ai-engine serve`` processes over SQLite and PostgreSQL state stores.

A trip survives ``kill -9`` of the service (and a restart of PostgreSQL); only an explicit
reset (here through the CLI) clears it; two replicas sharing PostgreSQL agree within 1 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from safety.pg import PgServer, free_port
from safety.service_helpers import ADMIN, SYMBOL, registry_in
from safety.signals import make_signal, trusted
from service.helpers import ADMIN_TOKEN, TRADER, TRADER_KEYS

PROPOSAL = {"symbol": SYMBOL, "timeframe": "5m", "signal": make_signal(symbol=SYMBOL)}


class Server:
    """One ``ai-engine serve`` process; ``kill`` sends SIGKILL."""

    def __init__(self, registry: Path, state_url: str, log: Path) -> None:
        self.registry = registry
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "AI_ENGINE_ADMIN_TOKEN": ADMIN_TOKEN,
            "AI_ENGINE_TRADER_KEYS": TRADER_KEYS,
        }
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ai_engine.cli",
                "serve",
                "--registry",
                str(registry),
                "--port",
                str(self.port),
                "--state-url",
                state_url,
                "--watch-interval",
                "0",
            ],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"server not ready in time: {log.read_text()[-3000:]}")

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", timeout=10, headers=TRADER)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=30, **{"headers": TRADER, **kw})

    def propose(self) -> dict[str, Any]:
        signal = trusted(PROPOSAL["signal"], self.registry)  # as the served release signs it
        body = {**PROPOSAL, "signal": signal, "equity": 10_000, "position": 0}
        response = self.post("/v1/risk/proposal", body)
        assert response.status_code == 200, response.text
        return response.json()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._log.close()


@contextmanager
def serving(registry: Path, state_url: str, log: Path) -> Iterator[Server]:
    server = Server(registry, state_url, log)
    try:
        yield server
    finally:
        server.kill()


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ai_engine.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def trip_kill_restart(
    registry: Path, state_url: str, log: Path, between: Any = lambda: None
) -> None:
    with serving(registry, state_url, log) as first:
        assert first.propose()["status"] == "approved"
        tripped = first.post(
            "/v1/ess/trip", {"reason": "kill switch drill", "actor": "drill"}, headers=ADMIN
        )
        assert tripped.status_code == 200 and tripped.json()["state"] == "HALTED"
    # the block ended with SIGKILL: no shutdown hook ran
    between()
    with serving(registry, state_url, log) as second:
        ess = second.get("/v1/ess")
        assert (ess["state"], ess["reason"], ess["actor"]) == (
            "HALTED",
            "kill switch drill",
            "admin",  # the key's identity, whatever the body's actor says (issue 23)
        )
        denied = second.propose()
        assert (denied["reasons"], denied["target"]) == (["ESS_HALTED"], 0.0)
        out = cli("ess", "reset", "--reason", "drill over", "--state-url", state_url)
        assert out.startswith("ACTIVE")
        assert second.get("/v1/ess")["state"] == "ACTIVE"
        assert second.propose()["status"] == "approved"
        triggers = [t["trigger"] for t in second.get("/v1/ess")["transitions"]]
        assert triggers == ["reset", "manual", "initial"]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return registry_in(tmp_path)


def test_sqlite_trip_survives_kill_9(registry: Path, tmp_path: Path) -> None:
    trip_kill_restart(registry, f"sqlite:///{tmp_path / 'state.db'}", tmp_path / "serve.log")


def test_postgresql_trip_survives_kill_9_and_a_database_restart(
    registry: Path, tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.new_database()
    trip_kill_restart(registry, url, tmp_path / "serve.log", between=pg_server.restart)


def test_two_replicas_on_postgresql_agree_within_a_second(
    registry: Path, tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.new_database()
    log = tmp_path / "serve.log"
    with serving(registry, url, log) as a, serving(registry, url, log) as b:
        assert b.get("/v1/ess")["state"] == "ACTIVE"
        assert a.post("/v1/ess/trip", {"reason": "replica drill"}, headers=ADMIN).status_code == 200
        # b reads the ESS from the shared database on every request: its first read after a's
        # answer already sees the trip (no clock: a loaded machine cannot break it)
        assert b.get("/v1/ess")["state"] == "HALTED", "replica b's next read missed the trip"
        assert b.propose()["reasons"] == ["ESS_HALTED"]
        # the database restarts under running replicas: they reconnect and keep the state
        pg_server.restart()
        assert a.get("/v1/ess")["reason"] == "replica drill"
        assert b.get("/v1/ess")["state"] == "HALTED"

"""Safety fixtures: a PostgreSQL server per test process, one state URL per backend, a desk
with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_engine.safety import SafetyConfig, SafetyDesk, StateStore
from safety.pg import PgServer

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty state store URL: SQLite in a temp folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


class Clock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_desk(url: str, clock: Clock, **sections: dict[str, object]) -> SafetyDesk:
    """A started desk over ``url`` with symbols SYN and ALT and the given config sections."""
    data: dict[str, dict[str, object]] = {"limits": {"symbols": ["SYN", "ALT"]}}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    desk = SafetyDesk(StateStore(url), SafetyConfig.from_json(data), clock=clock)
    desk.start()
    return desk


@pytest.fixture
def desk(state_url: str, clock: Clock) -> Iterator[SafetyDesk]:
    d = make_desk(state_url, clock)
    yield d
    d.store.dispose()

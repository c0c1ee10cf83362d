"""Helpers for the service tests: tiny configs, request bodies, release clones, app clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ai_engine.registry import Registry, Release, ReleaseMember
from ai_engine.service import ServiceSettings, create_app

from synthetic import synthetic_frame

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TRADER_KEY = "test-trader-key-engine"
TRADER = {"Authorization": f"Bearer {TRADER_KEY}"}
"""The trader key of the default owner ``engine``; clients of ``running_client`` send it."""
TRADER_KEYS = f"engine={TRADER_KEY}"
SYMBOL, TIMEFRAME = "SYN", "5m"
FRAME = synthetic_frame(600, seed=3)


def production_id(root: Path) -> str:
    return Registry(root).alias("production").release


def clone_release(root: Path, broken: tuple[str, ...] = (), source_ref: str = "production") -> str:
    """Publish a new release pinning the bundles of ``source_ref``; members named in ``broken``
    get a wrong manifest digest, so they load unhealthy. Returns its id."""
    registry = Registry(root)
    source = registry.resolve(source_ref)

    def member(m: ReleaseMember) -> ReleaseMember:
        return m.model_copy(update={"manifest_sha256": "0" * 64}) if m.family in broken else m

    def make(_: list[ReleaseMember], release_id: str) -> Release:
        return source.model_copy(
            update={
                "id": release_id,
                "created_at": datetime.now(UTC).isoformat(),
                "members": [member(m) for m in source.members],
            }
        )

    return registry.publish([], make).id


def candle_rows(n: int = 256) -> list[dict[str, Any]]:
    """The last ``n`` synthetic bars as request rows (epoch ms)."""
    frame = FRAME.iloc[-n:]
    return [
        {"t": int(ts.value // 1_000_000), "o": o, "h": h, "l": low, "c": c, "v": v}
        for ts, (o, h, low, c, v) in zip(frame.index, frame.to_numpy(), strict=True)
    ]


def signal_body(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "symbol": SYMBOL,
        "timeframe": TIMEFRAME,
        "candles": candle_rows() if rows is None else rows,
    }


def settings_for(root: Path, **changes: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "registry": root,
        "admin_token": ADMIN_TOKEN,
        "trader_keys": TRADER_KEYS,
        "watch_interval_s": 0.0,
        "stale_check": False,  # the test candles are from 2018; test_api covers the check
        **changes,
    }
    return ServiceSettings(**values)


@contextmanager
def running_client(settings: ServiceSettings) -> Iterator[TestClient]:
    """A TestClient around a fresh app, after its first load attempt has finished; it sends
    the trader key of ``engine`` unless a request gives its own Authorization header."""
    app = create_app(settings)
    with TestClient(app, headers=TRADER) as client:
        assert app.state.service.holder.wait_loaded(60)
        yield client

"""An app over the tiny trained release (symbol TEST, 5m) with a given state store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.helpers import ADMIN, candle_rows, running_client, settings_for
from trained import tiny_registry

SYMBOL, TIMEFRAME = "TEST", "5m"
__all__ = ["ADMIN", "SYMBOL", "TIMEFRAME", "client_for", "proposal_body", "registry_in"]


def registry_in(folder: Path) -> Path:
    """A private copy of the tiny trained registry under ``folder``."""
    return tiny_registry(folder / "registry").root


@contextmanager
def client_for(registry: Path, state_url: str, config: str | None = None) -> Iterator[TestClient]:
    """A TestClient of an app with this state store (and safety config TOML text)."""
    safety_config = None
    if config is not None:
        safety_config = registry.parent / "safety-test.toml"
        safety_config.write_text(config)
    settings = settings_for(registry, state_url=state_url, safety_config=safety_config)
    with running_client(settings) as client:
        yield client


def proposal_body(**changes: Any) -> dict[str, Any]:
    """A proposal from candles (the last 256 synthetic bars)."""
    return {
        "symbol": SYMBOL,
        "timeframe": TIMEFRAME,
        "candles": candle_rows(),
        "equity": 10_000.0,
        **changes,
    }

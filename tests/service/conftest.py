"""Service fixtures: one tiny release trained once per session, copies of its registry, a client.

The release is trained on 600 synthetic 5-minute bars with tiny per-family configs (seconds per
family); tests that change the registry work on a copy of it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ai_engine.data import make_candles
from ai_engine.registry import Registry
from ai_engine.training import make_plan, train
from service.helpers import FRAME, SYMBOL, TIMEFRAME, running_client, settings_for

from tiny import TINY


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with one tiny release behind ``production`` (trained once, never changed)."""
    root = tmp_path_factory.mktemp("service") / "registry"
    config = root.parent / "tiny.json"
    config.write_text(json.dumps({"families": TINY}))
    candles = make_candles(FRAME, SYMBOL, TIMEFRAME)
    train(candles, Registry(root), make_plan("quick", config), promote_to="production")
    return root


@pytest.fixture
def registry_copy(trained_registry: Path, tmp_path: Path) -> Path:
    """A private copy of the trained registry, free to change."""
    return Path(shutil.copytree(trained_registry, tmp_path / "registry"))


@pytest.fixture(scope="module")
def client(trained_registry: Path) -> Iterator[TestClient]:
    """A client of an app serving the (unchanging) trained registry."""
    with running_client(settings_for(trained_registry)) as c:
        yield c

"""Release format v2: a release directory written by commit c957850 (format v1, committed under
tests/data/v1-release) loads, signals as it did under c957850, and round-trips through
``ai-engine models upgrade``; v1 records of several symbols and timeframes upgrade to typed
series."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ai_engine.cli import app
from ai_engine.engine import Engine
from ai_engine.errors import RegistryError
from ai_engine.registry import Registry, Release
from ai_engine.release_format import RELEASE_FORMAT_VERSION, upgrade_v1
from ai_engine.serving import LocalEngines, Router
from trained import candles

V1 = Path(__file__).parent / "data" / "v1-release"
"""``store/``: the registry ``train`` (tiny preset, ``trained.candles()``) wrote at c957850;
``signal.json``: the signal c957850 made from it for ``trained.candles()``."""
runner = CliRunner()


@pytest.fixture
def v1_registry(tmp_path: Path) -> Registry:
    shutil.copytree(V1 / "store", tmp_path / "registry")
    return Registry(tmp_path / "registry")


def release_file(registry: Registry) -> dict[str, Any]:
    (path,) = registry.releases_dir.glob("*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def assert_same_signal(engine: Engine) -> None:
    """The signal equals the one c957850 made from the same release and candles."""
    expected = json.loads((V1 / "signal.json").read_text())
    signal = engine.signal(candles())
    assert signal.release == expected["release"] and signal.action == expected["action"]
    assert signal.reason == expected["reason"] and signal.horizon == expected["horizon"]
    assert signal.forecast == pytest.approx(expected["forecast"], abs=1e-9)
    assert {k: signal.edge[k] for k in expected["edge"]} == pytest.approx(expected["edge"])
    for vote in signal.members:
        old = expected["members"][vote.family]
        assert vote.weight == pytest.approx(old["weight"])
        assert vote.forecast == pytest.approx(old["forecast"], rel=1e-4, abs=1e-8)


def test_a_v1_release_loads_upgraded_in_memory_and_signals_as_before(
    v1_registry: Registry,
) -> None:
    assert release_file(v1_registry).get("format_version", 1) == 1
    release = v1_registry.resolve("production")
    assert release.format_version == RELEASE_FORMAT_VERSION and release.any_symbol
    (one,) = release.series
    assert (one.symbol, one.timeframe, one.members) == ("TEST", "5m", [0, 1, 2, 3])
    assert one.evaluation == release.evaluation and one.ensemble == release.ensemble
    assert (release.symbol, release.timeframe, release.symbols) == ("TEST", "5m", [])
    engine = Engine.load(v1_registry)
    assert engine.healthy_count == 4
    assert_same_signal(engine)
    routed = Router(LocalEngines(v1_registry, "production")).route("TEST", "5m")
    assert routed is engine or routed.release.id == release.id
    assert_same_signal(routed)
    assert release_file(v1_registry).get("format_version", 1) == 1  # reading never writes


def test_models_upgrade_rewrites_v1_as_v2_atomically_and_it_signals_the_same(
    v1_registry: Registry,
) -> None:
    root = str(v1_registry.root)
    refused = runner.invoke(app, ["models", "upgrade", "--registry", root])
    assert refused.exit_code == 2 and "--all" in refused.output
    done = runner.invoke(app, ["models", "upgrade", "production", "--registry", root])
    assert done.exit_code == 0, done.output
    release_id = v1_registry.resolve("production").id
    assert f"upgraded release {release_id}" in done.output
    data = release_file(v1_registry)
    assert data["format_version"] == 2 and data["any_symbol"] is True
    assert not {"symbol", "timeframe", "symbols", "per_symbol"} & set(data)
    assert [s["members"] for s in data["series"]] == [[0, 1, 2, 3]]
    assert v1_registry.temp_leftovers() == []
    again = runner.invoke(app, ["models", "upgrade", "--all", "--registry", root])
    assert again.exit_code == 0 and "already in the current format" in again.output
    assert release_file(v1_registry) == data
    assert Release.model_validate(data).model_dump() == data  # v2 reads back unchanged
    assert_same_signal(Engine.load(v1_registry))
    listing = json.loads(
        runner.invoke(app, ["models", "list", "--json", "--registry", root]).output
    )
    (row,) = listing["releases"]
    assert (row["symbol"], row["timeframe"], row["symbols"], row["series"]) == (
        "TEST",
        "5m",
        [],
        [],
    )


def v1_multi(members: list[dict[str, Any]]) -> dict[str, Any]:
    """A v1 record of two symbols at two timeframes, as c957850's ``train --group-by`` wrote."""
    keys = ["ADA_BTC@5m", "ETH_BTC@15m", "ETH_BTC@5m"]
    return {
        "id": "r1",
        "created_at": "2026-01-01T00:00:00+00:00",
        "model_set": "multi",
        "symbol": "ADA_BTC,ETH_BTC",
        "symbols": ["ADA_BTC", "ETH_BTC"],
        "timeframe": "5m,15m",
        "series": keys,
        "feature_fingerprint": "f",
        "members": members,
        "ensemble": {"pooled": True},
        "evaluation": {"pooled": True},
        "per_symbol": {
            k: {"evaluation": {"of": k}, "ensemble": {"of": k}, "metrics": {}, "oof_rows": 7}
            for k in keys
        },
    }


def test_a_v1_record_of_several_timeframes_upgrades_to_one_typed_series_each() -> None:
    member = {"family": "nhits", "version": "v1", "path": "b/n", "manifest_sha256": "0"}
    members = [
        member,
        {**member, "family": "xgboost", "path": "b/x1", "symbol": "ETH_BTC@15m"},
        {**member, "family": "xgboost", "path": "b/x2", "symbol": "ETH_BTC@5m"},
    ]
    release = Release.model_validate(v1_multi(members))
    assert [s.key for s in release.series] == ["ADA_BTC@5m", "ETH_BTC@15m", "ETH_BTC@5m"]
    assert release.timeframe == "5m,15m" and release.symbols == ["ADA_BTC", "ETH_BTC"]
    assert release.listed_series == release.series_keys == v1_multi(members)["series"]
    found = release.by_key()
    assert found["ETH_BTC@15m"].members == [0, 1] and found["ADA_BTC@5m"].members == [0]
    assert found["ETH_BTC@5m"].evaluation == {"of": "ETH_BTC@5m"}
    assert found["ETH_BTC@5m"].oof_rows == 7 and release.evaluation == {"pooled": True}
    assert Release.model_validate(upgrade_v1(v1_multi(members))) == release
    with pytest.raises(RegistryError, match="newer ai-engine"):
        Release.model_validate({**release.model_dump(), "format_version": 3})

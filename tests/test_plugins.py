"""Bring your own family: a fifth member from a plugin file, end to end through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_engine.cli import app
from ai_engine.data import load_candles
from ai_engine.engine import Engine
from ai_engine.errors import ConfigError
from ai_engine.registry import Registry, ReleaseMember
from ai_engine.training import make_plan
from service.helpers import running_client, settings_for

from tiny import RIDGE_PLUGIN, ridge_plugin

CLI = [sys.executable, "-m", "ai_engine.cli"]
BUILTIN = ["xgboost", "lightgbm", "nhits", "patchtst"]
FIVE = ",".join([*BUILTIN, "ridge"])


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    env.pop("AI_ENGINE_REGISTRY", None)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def five(eth_btc_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A registry whose production release has five members, the fifth from a plugin file
    (a private copy of examples/ridge_family.py, so that a test can take it away)."""
    root = tmp_path_factory.mktemp("plugins")
    plugin = root / "ridge_family.py"
    shutil.copy(RIDGE_PLUGIN, plugin)
    registry = root / "registry"
    result = run(
        "train",
        "--data",
        str(eth_btc_path),
        "--registry",
        str(registry),
        "--preset",
        "tiny",
        "--plugin",
        "ridge_family.py",  # relative to cwd: the release records the resolved path
        "--members",
        FIVE,
        "--promote",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    assert "ridge" in result.stdout and "promoted to production" in result.stdout
    return registry, plugin


def test_five_members_train_and_signal_in_a_fresh_process(
    five: tuple[Path, Path], eth_btc_path: Path
) -> None:
    registry, plugin = five
    release = Registry(registry).resolve("production")
    assert [m.family for m in release.members] == [*BUILTIN, "ridge"]
    assert [m.plugin for m in release.members] == [None] * 4 + [str(plugin.resolve())]
    assert release.ensemble["weights"] == {
        "xgboost": 0.30,
        "lightgbm": 0.30,
        "nhits": 0.20,
        "patchtst": 0.20,
        "ridge": 0.20,
    }
    result = run("signal", "--data", str(eth_btc_path), "--registry", str(registry), "--json")
    assert result.returncode == 0, result.stderr
    signal = json.loads(result.stdout)
    assert signal["consensus"]["healthy"] == 5 and signal["consensus"]["required"] == 3
    assert sorted(m["family"] for m in signal["members"]) == sorted([*BUILTIN, "ridge"])
    assert all(m["healthy"] for m in signal["members"])


def test_the_service_serves_the_five_member_release(
    five: tuple[Path, Path], eth_btc_path: Path
) -> None:
    frame = load_candles(eth_btc_path).frame.iloc[-256:]
    rows = [
        {"t": int(ts.value // 1_000_000), "o": o, "h": h, "l": low, "c": c, "v": v}
        for ts, (o, h, low, c, v) in zip(
            frame.index, frame[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True
        )
    ]
    body = {"symbol": "ETH_BTC", "timeframe": "5m", "candles": rows}
    with running_client(settings_for(five[0])) as client:
        response = client.post("/v1/signal", json=body)
    assert response.status_code == 200, response.text
    members = response.json()["members"]
    assert [m["family"] for m in members] == [*BUILTIN, "ridge"]
    assert all(m["healthy"] for m in members)


def test_a_release_whose_plugin_is_gone_loads_with_that_member_unhealthy(
    five: tuple[Path, Path], eth_btc_path: Path, tmp_path: Path
) -> None:
    registry = Registry(shutil.copytree(five[0], tmp_path / "registry"))
    release = registry.resolve("production")
    gone = str(tmp_path / "moved" / "ridge_family.py")
    members = [m.model_copy(update={"plugin": gone}) if m.plugin else m for m in release.members]
    path = registry.releases_dir / f"{release.id}.json"
    path.write_text(json.dumps(release.model_copy(update={"members": members}).model_dump()))

    engine = Engine.load(registry)
    ridge = next(m for m in engine.members if m.family == "ridge")
    assert engine.healthy_count == 4 and not ridge.healthy
    assert ridge.reason is not None and "\n" not in ridge.reason
    assert ridge.reason.startswith(f"ConfigError: plugin {gone} cannot be imported")

    result = run("signal", "--data", str(eth_btc_path), "--registry", str(registry.root), "--json")
    assert result.returncode == 0, result.stderr  # four healthy members still make the quorum
    signal = json.loads(result.stdout)
    (member,) = [m for m in signal["members"] if m["family"] == "ridge"]
    assert not member["healthy"] and "cannot be imported" in member["reason"]
    assert signal["consensus"]["healthy"] == 4


def test_release_files_without_a_plugin_field_still_load() -> None:
    old = {"family": "xgboost", "version": "v1", "path": "bundles/a/xgboost/v1"}
    assert ReleaseMember.model_validate({**old, "manifest_sha256": "0" * 64}).plugin is None


def test_models_families_lists_weights_and_origins() -> None:
    result = CliRunner().invoke(app, ["models", "families", "--plugin", str(RIDGE_PLUGIN)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert rows["xgboost"][1:3] == ["0.30", "yes"] and rows["xgboost"][-1] == "builtin"
    assert rows["nhits"][1] == "0.20" and rows["legacy-nhits"][2] == "no"
    # the origin is the file that registered it (another test may have imported a copy first)
    assert rows["ridge"][1:3] == ["0.20", "no"] and rows["ridge"][-1].endswith("ridge_family.py")


def test_members_and_plugins_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "plan.toml"
    config.write_text(f'plugins = ["{RIDGE_PLUGIN}"]\nmembers = ["xgboost", "ridge", "nhits"]\n')
    plan = make_plan("quick", config)
    assert plan.members == ("xgboost", "ridge", "nhits")
    assert plan.ensemble.weights == {"xgboost": 0.30, "ridge": 0.20, "nhits": 0.20}
    assert plan.ensemble.min_consensus == 3
    assert make_plan("quick", config, members=["ridge", "lightgbm", "patchtst"]).members == (
        "ridge",
        "lightgbm",
        "patchtst",
    )


def test_member_choices_are_checked() -> None:
    ridge_plugin()
    with pytest.raises(ConfigError, match="unknown model family 'prophet'"):
        make_plan("quick", members=["xgboost", "prophet"])
    with pytest.raises(ConfigError, match="'legacy-nhits' is imported .* never trained"):
        make_plan("quick", members=["xgboost", "lightgbm", "legacy-nhits"])
    with pytest.raises(ConfigError, match="members must be distinct"):
        make_plan("quick", members=["xgboost", "xgboost", "nhits"])
    with pytest.raises(ConfigError, match="min_consensus must be between 1 and 2"):
        make_plan("quick", members=["xgboost", "ridge"])


def test_weights_must_name_exactly_the_members(tmp_path: Path) -> None:
    config = tmp_path / "plan.json"
    weights = {"xgboost": 0.5, "lightgbm": 0.5, "nhits": 0.5}
    config.write_text(json.dumps({"ensemble": {"weights": weights, "min_consensus": 2}}))
    with pytest.raises(ConfigError, match=r"weights must name exactly the members"):
        make_plan("quick", config, members=["xgboost", "lightgbm", "ridge"])


def test_a_broken_plugin_is_one_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken_family.py"
    broken.write_text("raise RuntimeError('no\\nsecond line')\n")
    with pytest.raises(ConfigError, match=r"cannot be imported: RuntimeError: no$"):
        make_plan("quick", plugins=[str(broken)])
    clash = tmp_path / "clash_family.py"
    clash.write_text(RIDGE_PLUGIN.read_text().replace('family = "ridge"', 'family = "xgboost"'))
    with pytest.raises(ConfigError, match="model family 'xgboost' registered twice: by builtin"):
        make_plan("quick", plugins=[str(clash)])
    empty = tmp_path / "empty_family.py"
    empty.write_text("X = 1\n")
    with pytest.raises(ConfigError, match="expected it to register a family, found none"):
        make_plan("quick", plugins=[str(empty)])

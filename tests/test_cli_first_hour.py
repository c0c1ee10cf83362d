"""A new user's first hour with the real `ai-engine` executable: output piped (never cut at 80
columns), flags shown as flags, the errors a first try runs into, named plainly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ai_engine.registry import Registry
from trained import tiny_registry

from synthetic import synthetic_frame

CLI = str(Path(sys.executable).with_name("ai-engine"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Piped, as in `ai-engine models list | less`: no COLUMNS, no terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "AI_ENGINE_REGISTRY")}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return tiny_registry(tmp_path_factory.mktemp("first-hour") / "registry")


def candle_file(folder: Path, name: str, freq: str) -> Path:
    path = folder / name
    synthetic_frame(700, seed=5, freq=freq).to_csv(path)
    return path


def test_release_ids_are_whole_when_piped(registry: Registry) -> None:
    release = registry.resolve("production").id
    listing = run("models", "list", "--registry", str(registry.root))
    assert listing.returncode == 0, listing.stderr
    assert release in listing.stdout and "…" not in listing.stdout
    assert max(map(len, listing.stdout.splitlines())) > 80  # a wide table, not one cut at 80
    as_json = json.loads(run("models", "list", "--registry", str(registry.root), "--json").stdout)
    assert as_json["releases"][0]["id"] == release
    assert as_json["releases"][0]["aliases"] == ["production"]
    shown = run("models", "show", release, "--registry", str(registry.root), "--json")
    assert json.loads(shown.stdout)["id"] == release


def test_other_timeframe_is_refused_as_the_api_refuses_it(
    registry: Registry, tmp_path: Path
) -> None:
    release = registry.resolve("production").id
    data = candle_file(tmp_path, "TEST-30m.csv", "30min")
    result = run("signal", "--data", str(data), "--registry", str(registry.root))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: DataValidationError: timeframe '30m' differs from the '5m' candles release "
        f"{release} was trained on"
    )


def test_another_symbol_is_a_warning(registry: Registry, tmp_path: Path) -> None:
    data = candle_file(tmp_path, "OTHER-5m.csv", "5min")
    result = run("signal", "--data", str(data), "--registry", str(registry.root), "--json")
    assert result.returncode == 0, result.stderr
    assert "warning: symbol 'OTHER' is not the 'TEST' release" in result.stderr
    assert json.loads(result.stdout)["symbol"] == "OTHER"


def test_missing_data_then_missing_registry(tmp_path: Path, eth_btc_path: Path) -> None:
    missing = run("signal", "--data", "nope.feather", cwd=tmp_path)
    assert missing.returncode == 1
    assert "nope.feather: expected a candle file, found nothing there" in missing.stderr
    no_registry = run("signal", "--data", str(eth_btc_path), cwd=tmp_path)
    assert no_registry.returncode == 1
    assert "RegistryError: registry folder ./registry does not exist" in no_registry.stderr
    assert "registry registry" not in no_registry.stderr


def test_flags_are_shown_as_flags() -> None:
    for command in (["train"], ["signal"], ["backtest"], ["models", "list"]):
        helptext = run(*command, "--help").stdout
        assert "<bool>" not in helptext, command
    backtest = run("backtest", "--help").stdout
    assert "--expanding " in backtest and "no-expanding" not in backtest
    assert "Expanding training window; the default unless" in " ".join(backtest.split())


def test_a_candle_file_is_not_a_checkpoint(tmp_path: Path, eth_btc_path: Path) -> None:
    result = run("import-legacy", str(eth_btc_path), "--registry", str(tmp_path / "registry"))
    assert result.returncode == 1
    assert "not a PyTorch checkpoint or pickle" in result.stderr
    assert "found an Arrow/Feather file" in result.stderr and "Unsupported" not in result.stderr

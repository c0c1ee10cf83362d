"""End to end through the real `ai-engine` executable: train, signal, list, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("ai-engine"))]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("AI_ENGINE_REGISTRY", None)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def trained(eth_btc_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    registry = tmp_path_factory.mktemp("cli") / "registry"
    result = run(
        "train",
        "--data",
        str(eth_btc_path),
        "--registry",
        str(registry),
        "--preset",
        "quick",
        "--promote",
    )
    assert result.returncode == 0, result.stderr
    assert "promoted to production" in result.stdout
    for family in ("xgboost", "lightgbm", "nhits", "patchtst", "ensemble", "zero_forecast"):
        assert family in result.stdout
    return registry


def test_train_then_signal_json_in_a_fresh_process(trained: Path, eth_btc_path: Path) -> None:
    result = run("signal", "--data", str(eth_btc_path), "--registry", str(trained), "--json")
    assert result.returncode == 0, result.stderr
    signal = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert signal["action"] in ("BUY", "SELL", "HOLD")
    assert signal["symbol"] == "ETH_BTC" and signal["timeframe"] == "5m"
    assert signal["as_of"].startswith("2018-01-30")
    assert len(signal["forecast"]) == 12
    assert signal["horizon"] == (signal["edge"]["horizon"] if signal["edge"]["enabled"] else 12)
    assert signal["consensus"]["healthy"] == 4 and signal["consensus"]["required"] == 3
    assert sorted(m["family"] for m in signal["members"]) == [
        "lightgbm",
        "nhits",
        "patchtst",
        "xgboost",
    ]
    assert all(m["weight"] >= 0 for m in signal["members"])  # NNLS: may all be 0, no sum rule
    # a trade has no HOLD reason; a HOLD always says why
    assert (signal["reason"] is None) == (signal["action"] != "HOLD")
    assert len(signal["forecast_lower"]) == len(signal["forecast_upper"]) == 12
    assert all(
        lo <= f <= hi
        for lo, f, hi in zip(
            signal["forecast_lower"], signal["forecast"], signal["forecast_upper"], strict=True
        )
    )


def test_signal_table_and_models_list(trained: Path, eth_btc_path: Path) -> None:
    table = run("signal", "--data", str(eth_btc_path), "--registry", str(trained))
    assert table.returncode == 0, table.stderr
    as_json = json.loads(run("signal", "--data", str(eth_btc_path), "--registry", str(trained),
                             "--json").stdout)  # fmt: skip
    votes = [m["vote"] for m in as_json["members"]]
    # the line states the votes as cast (issue 27) and why the action is what it is
    cast = f"members vote {votes.count('UP')} UP / {votes.count('DOWN')} DOWN"
    assert f"{as_json['action']}" in table.stdout and cast in table.stdout, table.stdout
    assert "(3 of 4 needed for a trade)" in table.stdout and "agree DOWN" not in table.stdout
    if as_json["reason"] == "no_edge":
        assert "no horizon has an edge out of fold" in table.stdout
        assert "confidence 0.00" in table.stdout and "confidence 1.00" not in table.stdout
    assert "weight h" in table.stdout and " weights at h" in table.stdout  # labelled
    assert "edge at h=" in table.stdout or "no edge" in table.stdout
    listing = run("models", "list", "--registry", str(trained))
    assert listing.returncode == 0
    assert "production" in listing.stdout and listing.stdout.count("ETH_BTC-5m/") == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--preset", "fast"), "ConfigError: unknown preset 'fast'; expected one of"),
        (("--config", "CONFIG"), "ConfigError: unknown model family 'prophet'"),
        (("--registry", "AFILE"), "RegistryError: registry"),
    ],
)
def test_bad_options_are_one_line_errors(
    args: tuple[str, ...], message: str, tmp_path: Path, eth_btc_path: Path
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"families": {"prophet": {}}}))
    (tmp_path / "afile").write_text("not a folder")
    args = tuple(
        a.replace("CONFIG", str(tmp_path / "config.json")).replace("AFILE", str(tmp_path / "afile"))
        for a in args
    )
    result = run("train", "--data", str(eth_btc_path), "--registry", str(tmp_path / "reg"), *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reg" / "releases").exists()


def test_malformed_candles_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,-3\n")
    result = run("train", "--data", str(bad), "--registry", str(tmp_path / "reg"))
    assert result.returncode == 1
    assert "DataValidationError" in result.stderr and "negative volume at row 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "train", "--data", str(tmp_path / "missing.csv"))
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_signal_without_a_registry_says_so(tmp_path: Path, eth_btc_path: Path) -> None:
    result = run("signal", "--data", str(eth_btc_path), "--registry", str(tmp_path / "none"))
    assert result.returncode == 1 and "RegistryError" in result.stderr

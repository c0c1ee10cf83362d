"""`ai-engine freqtrade init` with a user's own data (issue 27 item 7), through the real CLI: a
release of a symbol without a quote currency is told to give --pair; --data is converted to
freqtrade's file name and layout; the config dry-runs (running from the start, no websocket);
a backtest that never trades says why in the log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ai_engine.registry import Registry
from trained import tiny_registry

from synthetic import synthetic_frame

CLI = str(Path(sys.executable).with_name("ai-engine"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "AI_ENGINE_REGISTRY")}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return tiny_registry(tmp_path_factory.mktemp("ft-init") / "registry")  # symbol TEST, 5m


def test_init_converts_own_candles_and_writes_a_config_that_dry_runs(
    registry: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    no_pair = run("freqtrade", "init", str(tmp_path / "a"), "--registry", str(registry.root))
    assert no_pair.returncode != 0
    assert "give one with --pair, e.g. --pair TEST/USD" in no_pair.stderr, no_pair.stderr
    frame = synthetic_frame(700, seed=3)
    data = tmp_path / "TEST.csv"
    frame.to_csv(data)
    folder = tmp_path / "ft"
    args = ("--pair", "TEST/USD", "--data", str(data), "--registry", str(registry.root))
    done = run("freqtrade", "init", str(folder), *args)
    assert done.returncode == 0, done.stderr
    written = pd.read_feather(folder / "data" / "binance" / "TEST_USD-5m.feather")
    assert list(written.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert len(written) == len(frame) and str(written["date"].dt.tz) == "UTC"
    assert written["close"].tolist() == pytest.approx(frame["close"].tolist())
    config = json.loads((folder / "config.json").read_text())
    assert config["initial_state"] == "running" and config["exchange"]["enable_ws"] is False
    assert config["exchange"]["pair_whitelist"] == ["TEST/USD"]
    # backtesting mode replays the release; an all-HOLD replay explains "No trades made"
    from freqtrade.configuration import Configuration
    from freqtrade.data.dataprovider import DataProvider
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import StrategyResolver

    settings = Configuration.from_files([str(folder / "config.json")])
    settings["runmode"] = RunMode.BACKTEST
    strategy = StrategyResolver.load_strategy(settings)
    strategy.dp = DataProvider(settings, None)
    strategy.ft_bot_start()
    caplog.set_level(logging.WARNING, logger="ai_engine.integrations.freqtrade.strategy")
    df = strategy.populate_indicators(written.copy(), {"pair": "TEST/USD"})
    assert (df["ai_action"] == "BUY").any() and "no BUY or SELL" not in caplog.text
    # the same release without its decision rule: no edge, every bar HOLD, said once per pair
    release = next((registry.root / "releases").glob("*.json"))
    record = json.loads(release.read_text())
    record["evaluation"]["decision"] = None
    record["evaluation"]["edge"] = {**record["evaluation"]["edge"], "enabled": False}
    release.write_text(json.dumps(record))
    strategy.ft_bot_start()
    df = strategy.populate_indicators(written.copy(), {"pair": "TEST/USD"})
    assert set(df["ai_action"]) <= {"HOLD", "REFUSED"}
    assert "ai-engine: TEST/USD: no BUY or SELL in 700 bars (HOLD no_edge " in caplog.text
    assert "the release found no edge out of fold" in caplog.text
    strategy.populate_indicators(written.copy(), {"pair": "TEST/USD"})
    assert caplog.text.count("no BUY or SELL") == 1  # once per pair

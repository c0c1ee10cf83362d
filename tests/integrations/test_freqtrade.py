"""The freqtrade integration end to end: the real ``freqtrade backtesting`` command (markets from
a static file, nothing else replaced) on a release trained here, compared bar for bar with
``ai-engine backtest --release``; and a dry-run strategy against a real ``ai-engine serve``.

Two releases: tiny models on the real ETH/BTC 5-minute candles of tests/data (usually no edge,
so all HOLD), and on a synthetic market with a persistent drift (an edge, so entries happen).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from freqtrade.resolvers import StrategyResolver

from ai_engine.data import load_candles, make_candles
from ai_engine.evaluation.decision import DecisionRule, positions
from ai_engine.integrations.freqtrade.client import fill_id
from ai_engine.integrations.freqtrade.live import RuleState, rule_step
from ai_engine.registry import Registry
from ai_engine.synthetic import candles_from_returns, persistent_drift
from ai_engine.training import make_plan, train
from multi.pairs import write_pairs
from multi.test_timeframes import resampled
from service.server import SLOW, served, wait_ready

REAL = Path(__file__).resolve().parents[1] / "data" / "crypto" / "ETH_BTC-5m.feather"
TF = pd.Timedelta("5min")


def synthetic_frame(bars: int = 3000, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """A market whose drift persists (the engine finds an edge in it)."""
    frame = candles_from_returns(persistent_drift(bars, 0, drift_sigma=0.002), 0)
    if end is not None:
        frame.index = pd.date_range(end=end, periods=bars, freq="5min", tz="UTC", name="date")
    return frame


def trained(root: Path, frame: pd.DataFrame, symbol: str) -> Path:
    registry = root / "registry"
    train(make_candles(frame, symbol, "5m"), Registry(registry), make_plan("tiny"), "production")
    return registry


@pytest.fixture(scope="module")
def real_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("real"), load_candles(REAL).frame, "ETH/BTC")


@pytest.fixture(scope="module")
def edge_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("edge"), synthetic_frame(), "SYN/BTC")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "ai_engine.cli", *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def userdir(
    folder: Path, registry: Path, pair: str, data: Path, service: str = "", timeframe: str = ""
) -> Path:
    """``ai-engine freqtrade init`` plus a signals folder for the comparison."""
    extra = ["--service", service] if service else []
    extra += ["--timeframe", timeframe] if timeframe else []
    cli("freqtrade", "init", str(folder), "--registry", str(registry), "--pair", pair,
        "--data", str(data), *extra)  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    config["ai_engine"]["signals_dir"] = str(folder / "signals")
    if service:  # a loaded machine may take seconds per answer: no per-call limit to break
        config["ai_engine"]["timeout"] = SLOW
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def freqtrade_backtesting(folder: Path) -> list[dict[str, Any]]:
    """Run the real ``freqtrade backtesting`` offline; the trades it took."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ai_engine.integrations.freqtrade.offline"),
            *(str(folder / "markets.json"), "backtesting"),
            *("--config", str(folder / "config.json"), "--userdir", str(folder)),
            *("--export", "trades"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "STRATEGY SUMMARY" in done.stdout + done.stderr
    (result,) = (folder / "backtest_results").glob("backtest-result-*.zip")
    with zipfile.ZipFile(result) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".json") and "_config" not in n]
        data = json.loads(archive.read(name))
    return list(data["strategy"]["AIEngine"]["trades"])


def replay_cli(registry: Path, data: Path, out: Path) -> pd.DataFrame:
    cli("backtest", "--release", "production", "--registry", str(registry), "--data", str(data),
        "--out", str(out))  # fmt: skip
    assert json.loads((out / "replay.json").read_text())["bars"] == len(pd.read_feather(data))
    return pd.read_csv(out / "signals.csv", keep_default_na=False)


def assert_same_signals(strategy: pd.DataFrame, replay: pd.DataFrame) -> None:
    """Bar for bar: dates, actions, reasons, positions; expected returns to float rounding."""
    assert len(strategy) == len(replay)
    for column in ("date", "action", "reason", "position"):
        assert strategy[column].tolist() == replay[column].tolist(), column
    left = pd.to_numeric(strategy["expected_return"], errors="coerce").to_numpy()
    right = pd.to_numeric(replay["expected_return"], errors="coerce").to_numpy()
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-12, equal_nan=True)


def signal_bar(trade_date: str) -> str:
    """The bar whose signal a trade acted on: freqtrade fills at the next candle's open."""
    return str(pd.Timestamp(trade_date) - TF)


def test_backtesting_on_real_candles_equals_the_replay_bar_for_bar(
    real_registry: Path, tmp_path: Path
) -> None:
    folder = userdir(tmp_path / "ft", real_registry, "ETH/BTC", REAL)
    trades = freqtrade_backtesting(folder)
    strategy = pd.read_csv(folder / "signals" / "ETH_BTC-5m.csv", keep_default_na=False)
    replay = replay_cli(real_registry, REAL, tmp_path / "replay")
    assert_same_signals(strategy, replay)
    allowed = set(replay["date"][(replay["action"] == "BUY") & (replay["position"] > 0)])
    assert all(signal_bar(t["open_date"]) in allowed for t in trades)
    assert (replay["action"] == "REFUSED").sum() == 199  # bars before 200 candles of history


def test_backtesting_on_a_market_with_an_edge_enters_only_where_the_signal_allows(
    edge_registry: Path, tmp_path: Path
) -> None:
    data = tmp_path / "SYN_BTC-5m.feather"
    synthetic_frame().reset_index().to_feather(data)
    folder = userdir(tmp_path / "ft", edge_registry, "SYN/BTC", data)
    trades = freqtrade_backtesting(folder)
    strategy = pd.read_csv(folder / "signals" / "SYN_BTC-5m.csv", keep_default_na=False)
    replay = replay_cli(edge_registry, data, tmp_path / "replay")
    assert_same_signals(strategy, replay)
    assert (replay["action"] == "BUY").any() and trades, "the drift market should trade"
    by_date = replay.set_index("date")
    for trade in trades:
        entry = by_date.loc[signal_bar(trade["open_date"])]
        assert entry["action"] == "BUY" and entry["position"] == 1, trade
        if trade["exit_reason"] == "exit_signal":
            assert by_date.loc[signal_bar(trade["close_date"]), "position"] <= 0, trade


def test_the_replay_equals_the_engine_at_each_bar_from_candles_up_to_it(
    edge_registry: Path,
) -> None:
    from ai_engine.backtest.replay import replay_signals
    from ai_engine.engine import Engine

    frame = synthetic_frame(1200)
    engine = Engine.load(edge_registry)
    replay = replay_signals(engine, make_candles(frame, "SYN/BTC", "5m"))
    for t in range(199, 1200, 37):
        signal = engine.signal(make_candles(frame.iloc[: t + 1], "SYN/BTC", "5m"))
        assert (signal.action, signal.reason or "") == (replay.actions[t], replay.reasons[t])
        assert signal.expected_return == pytest.approx(replay.expected[t], abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
def test_stepping_the_rule_bar_by_bar_equals_the_rule_over_the_series(seed: int) -> None:
    rng = np.random.default_rng(seed)
    expected = rng.normal(0, 0.01, 500)
    entries = rng.choice([-1, 0, 0, 1], 500)
    rule = DecisionRule(horizon=3, entry_threshold=0.01, exit_threshold=0.004, min_hold_bars=4)
    state = RuleState()
    pairs = zip(expected, entries, strict=True)
    stepped = [rule_step(state, float(e), int(n), rule) for e, n in pairs]
    np.testing.assert_array_equal(stepped, positions(expected, entries, rule))


def dry_run_strategy(folder: Path) -> Any:
    """The user directory's strategy as freqtrade builds it for a dry run."""
    from freqtrade.configuration import Configuration
    from freqtrade.data.dataprovider import DataProvider
    from freqtrade.enums import RunMode
    from freqtrade.persistence import init_db

    config = Configuration.from_files([str(folder / "config.json")])
    init_db("sqlite://")  # the trade database a dry run keeps (in memory here)
    config["runmode"] = RunMode.DRY_RUN
    strategy = StrategyResolver.load_strategy(config)
    strategy.dp = DataProvider(config, None)
    strategy.ft_bot_start()
    return strategy


def analyze(strategy: Any, frame: pd.DataFrame, pair: str) -> pd.DataFrame:
    df = frame.reset_index()
    df = strategy.populate_indicators(df, {"pair": pair})
    df = strategy.populate_entry_trend(df, {"pair": pair})
    return strategy.populate_exit_trend(df, {"pair": pair})


def test_dry_run_gets_signals_over_http_and_enters_nothing_without_the_service(
    edge_registry: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ai_engine.backtest.replay import replay_signals
    from ai_engine.engine import Engine

    end = pd.Timestamp.now(tz="UTC").floor("5min") - TF  # the last closed candle
    frame = synthetic_frame(1000, end)
    data = tmp_path / "SYN_BTC-5m.feather"
    frame.reset_index().to_feather(data)
    replay = replay_signals(Engine.load(edge_registry), make_candles(frame, "SYN/BTC", "5m"))
    buy = np.flatnonzero((replay.actions == "BUY") & (replay.positions > 0))
    assert len(buy), "the drift market should have a BUY bar"
    upto = frame.iloc[: buy[-1] + 1]  # live: the last candle is a BUY
    upto.index = pd.date_range(end=end, periods=len(upto), freq="5min", tz="UTC", name="date")
    out_of_the_box = {"AI_ENGINE_TRADER_KEYS": ""}  # the service makes its key file
    with served(edge_registry, tmp_path / "serve.log", env_changes=out_of_the_box) as url:
        wait_ready(url)  # the release loads after the server is live
        folder = userdir(tmp_path / "ft", edge_registry, "SYN/BTC", data, url)
        key = json.loads((folder / "config.json").read_text())["ai_engine"]["key"]
        assert f"engine = {key}" in (edge_registry.parent / "keys").read_text()
        assert (folder / "config.json").stat().st_mode & 0o077 == 0  # it holds a key
        strategy = dry_run_strategy(folder)
        assert strategy.client is not None and strategy.engine is None
        df = analyze(strategy, upto, "SYN/BTC")
        last = df.iloc[-1]
        assert last["ai_action"] == "BUY" and last["enter_long"] == 1, last.to_dict()
        assert df["enter_long"].iloc[:-1].sum() == 0  # only the last candle is asked
        assert strategy.confirm_trade_entry(
            "SYN/BTC", "limit", 1.0, 1.0, "GTC", end.to_pydatetime(), None, "long"
        )
        strategy.ai = dataclasses.replace(strategy.ai, safety=True)
        stake = (upto["close"].iloc[-1], 100.0, None, 1e6, 1.0, None, "long")
        assert 0 < strategy.custom_stake_amount("SYN/BTC", end.to_pydatetime(), *stake) <= 1e6
        order = SimpleNamespace(  # a filled entry order as freqtrade hands it over
            ft_order_side="buy", side="buy", order_id="dry_run_buy_SYN/BTC_1", safe_price=1.0,
            safe_filled=5.0, safe_fee_base=0.005,
        )  # fmt: skip
        strategy.order_filled("SYN/BTC", SimpleNamespace(exit_side="sell"), order, end)
        headers = {"Authorization": f"Bearer {key}"}
        (booked,) = httpx.get(f"{url}/v1/fills", headers=headers, timeout=30).json()["fills"]
        assert booked["fill_id"] == fill_id("dry_run_buy_SYN/BTC_1") and booked["quantity"] == 5
        assert booked["owner"] == "engine" and booked["fee"] == pytest.approx(0.005)
    caplog.set_level(logging.INFO, logger="ai_engine.integrations.freqtrade.strategy")
    df = analyze(strategy, upto, "SYN/BTC")  # the service is stopped now
    assert df["enter_long"].sum() == 0 and df["exit_long"].sum() == 0
    assert (df["ai_action"] == "").all()
    assert "no signal for SYN/BTC" in caplog.text and "unreachable" in caplog.text
    assert not strategy.confirm_trade_entry(
        "SYN/BTC", "limit", 1.0, 1.0, "GTC", end.to_pydatetime(), None, "long"
    )
    assert "ESS state unknown" in caplog.text
    assert strategy.custom_stake_amount("SYN/BTC", end.to_pydatetime(), *stake) == 0.0


def test_init_refuses_a_bad_pair_and_an_existing_directory(
    real_registry: Path, tmp_path: Path
) -> None:
    base = [sys.executable, "-m", "ai_engine.cli", "freqtrade", "init", str(tmp_path / "ft")]
    bad = subprocess.run(
        [*base, "--registry", str(real_registry), "--pair", "ETHBTC"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "ConfigError: expected a spot pair like" in bad.stderr
    cli("freqtrade", "init", str(tmp_path / "ft"), "--registry", str(real_registry))
    again = subprocess.run(
        [*base, "--registry", str(real_registry)], capture_output=True, text=True
    )
    assert again.returncode == 1 and "exists; expected a new or empty folder" in again.stderr


@pytest.fixture(scope="module")
def series_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One release over ADA_BTC and ETH_BTC at 5m and ETH_BTC at 15m (`train --group-by all`)."""
    root = tmp_path_factory.mktemp("series")
    data = write_pairs(root / "data")
    resampled("ETH_BTC").reset_index().to_feather(data / "ETH_BTC-15m.feather")
    registry = root / "registry"
    cli("train", "--data", str(data), "--group-by", "all", "--registry", str(registry),
        "--preset", "tiny", "--promote")  # fmt: skip
    return registry, data


def test_a_release_of_several_series_backtests_and_dry_runs_each_pair_as_its_series(
    series_registry: tuple[Path, Path], tmp_path: Path
) -> None:
    from ai_engine.backtest.replay import replay_signals
    from ai_engine.engine import Engine
    from ai_engine.serving import series_view

    registry, data = series_registry
    candles = data / "ETH_BTC-5m.feather"
    base = [sys.executable, "-m", "ai_engine.cli", "freqtrade", "init", "--registry", str(registry)]
    undecided = subprocess.run([*base, str(tmp_path / "x")], capture_output=True, text=True)
    assert undecided.returncode == 1, undecided.stderr
    assert "covers the timeframes ['15m', '5m']; expected one of them" in undecided.stderr
    cli("freqtrade", "init", str(tmp_path / "all"), "--registry", str(registry),
        "--timeframe", "5m")  # fmt: skip
    config = json.loads((tmp_path / "all" / "config.json").read_text())
    assert config["timeframe"] == "5m"
    assert config["exchange"]["pair_whitelist"] == ["ADA/BTC", "ETH/BTC"]
    # backtesting: the pair ETH/BTC is replayed in process as the series ETH_BTC@5m
    folder = userdir(tmp_path / "ft", registry, "ETH/BTC", candles, timeframe="5m")
    freqtrade_backtesting(folder)
    strategy = pd.read_csv(folder / "signals" / "ETH_BTC-5m.csv", keep_default_na=False)
    replay = replay_cli(registry, candles, tmp_path / "replay")
    assert_same_signals(strategy, replay)
    view = series_view(Engine.load(registry), "ETH/BTC", "5m")
    assert view.release.series_keys == ["ETH_BTC@5m"]
    own = replay_signals(view, load_candles(candles, "ETH/BTC"))
    assert strategy["reason"].tolist() == list(own.reasons)
    # dry-run: the service routes the pair's name to the same series
    end = pd.Timestamp.now(tz="UTC").floor("5min") - TF
    frame = load_candles(candles).frame.iloc[-300:]
    frame.index = pd.date_range(end=end, periods=len(frame), freq="5min", tz="UTC", name="date")
    with served(registry, tmp_path / "serve.log") as url:
        wait_ready(url)  # the release loads after the server is live
        live = dry_run_strategy(userdir(tmp_path / "live", registry, "ETH/BTC", candles, url, "5m"))
        df = analyze(live, frame, "ETH/BTC")
    assert df["ai_action"].iloc[-1] != "", "the service should answer ETH/BTC"
    assert live.signals["ETH/BTC"]["release"] == view.release.id

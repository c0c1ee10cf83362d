"""One release over series of two timeframes (`train --group-by all`): real ADA_BTC and ETH_BTC
5m candles plus ETH_BTC resampled to 15m. Inner folds cut each timeframe on its own clock; the
release declares its (symbol, timeframe) series, keeps one verdict per series, and the CLI and
a real `ai-engine serve` answer each series from its own evidence; anything else is a 404."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from ai_engine.coverage import covers
from ai_engine.engine import Engine
from ai_engine.errors import NotFound
from ai_engine.multi.gate import GateSettings, read_decision
from ai_engine.multi.pooling import final_split, symbol_rows, time_folds
from ai_engine.multi.retrain import retrain
from ai_engine.registry import Registry
from ai_engine.serving import series_view
from ai_engine.serving.router import LocalEngines, Router
from multi.pairs import CRYPTO, PLAN, write_pairs
from multi.test_routing import body
from service.server import served, wait

CLI = [sys.executable, "-m", "ai_engine.cli"]
SERIES = ["ADA_BTC@5m", "ETH_BTC@5m", "ETH_BTC@15m"]


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def resampled(symbol: str, rule: str = "15min") -> pd.DataFrame:
    """A committed 5m file resampled to a slower timeframe (all of it: 20 days)."""
    frame = pd.read_feather(CRYPTO / f"{symbol}-5m.feather").set_index("date")
    ohlcv = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return frame.resample(rule).agg(ohlcv).dropna()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One run over a folder of 5m files (last 1,000 bars: 3.5 days) and a 15m file (1,920
    bars: 20 days), per-series trees, promoted."""
    root = tmp_path_factory.mktemp("mixed")
    data = write_pairs(root / "data")
    resampled("ETH_BTC").reset_index().to_feather(data / "ETH_BTC-15m.feather")
    registry = root / "registry"
    cli(
        "train", "--data", str(data), "--group-by", "all", "--trees", "per_symbol",
        "--registry", str(registry), "--preset", "tiny", "--promote",
    )  # fmt: skip
    return registry, data


def test_one_release_declares_every_series_with_a_verdict_each(mixed: tuple[Path, Path]) -> None:
    registry, _ = mixed
    reg = Registry(registry)
    assert len(reg.releases()) == 1
    assert sorted(reg.aliases()) == ["production", "production@multi"]
    release = reg.resolve("production")
    assert release.series_keys == SERIES and release.symbols == ["ADA_BTC", "ETH_BTC"]
    assert release.format_version == 2 and not release.any_symbol
    assert release.timeframe == "5m,15m" and release.model_set == "multi"
    assert sorted(release.by_key()) == sorted(SERIES)
    assert all((s.oof_rows or 0) > 0 and s.metrics for s in release.series)
    trees = sorted({m.symbol for m in release.members if m.symbol is not None})
    assert trees == sorted(SERIES)  # per-series trees, keyed like per_symbol
    assert sum(m.symbol is None for m in release.members) == 2  # one network per family
    listing = json.loads(cli("models", "list", "--registry", str(registry), "--json").stdout)
    (row,) = listing["releases"]
    assert row["series"] == SERIES and row["timeframe"] == "5m,15m"
    shown = cli("models", "show", "production", "--registry", str(registry)).stdout
    assert all(f"symbol       {key}: " in shown for key in SERIES)


def test_each_series_is_answered_from_its_own_evidence(mixed: tuple[Path, Path]) -> None:
    registry, data = mixed
    release = Registry(registry).resolve("production")
    engine = Engine.load(registry, "production")
    for key, name in zip(SERIES, ["ADA_BTC-5m", "ETH_BTC-5m", "ETH_BTC-15m"], strict=True):
        symbol, timeframe = key.split("@")
        view = series_view(engine, symbol, timeframe)
        assert view.release.timeframe == timeframe and view.release.series_keys == [key]
        assert view.release.evaluation == release.by_key()[key].evaluation
        assert {m.symbol for m in view.release.members} == {None, key}
        args = ("signal", "--data", str(data / f"{name}.feather"), "--registry", str(registry))
        signal = json.loads(cli(*args, "--json").stdout)
        assert (signal["symbol"], signal["timeframe"]) == (symbol, timeframe)
        assert signal["release"] == release.id and signal["consensus"]["healthy"] == 4
        edge = release.by_key()[key].evaluation["edge"]
        assert signal["edge"]["enabled"] == edge["enabled"]
    with pytest.raises(NotFound, match="at timeframes \\['5m', '15m'\\]; expected a timeframe"):
        series_view(engine, "ETH_BTC")
    assert series_view(engine, "ADA_BTC").release.series_keys == ["ADA_BTC@5m"]  # one series
    assert covers(release, "ETH_BTC", "15m") and not covers(release, "ADA_BTC", "15m")
    with pytest.raises(NotFound, match=r"covered: \['ADA_BTC 5m', 'ETH_BTC 15m', 'ETH_BTC 5m'\]"):
        Router(LocalEngines(registry, "production")).route("ADA_BTC", "15m")
    slow = data.parent / "ADA_BTC-15m.feather"
    resampled("ADA_BTC").reset_index().to_feather(slow)
    done = cli("signal", "--data", str(slow), "--registry", str(registry), ok=False)
    assert "NotFound: symbol 'ADA_BTC' at 15m is covered by no release" in done.stderr


def test_the_service_routes_each_series_and_404s_the_rest(
    mixed: tuple[Path, Path], tmp_path: Path
) -> None:
    registry, data = mixed
    release = Registry(registry).resolve("production")
    with served(registry, tmp_path / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/v1/models", timeout=30).json()["served"] is not None)
        models = httpx.get(f"{url}/v1/models", timeout=60).json()
        assert {c["alias"]: c["series"] for c in models["coverage"]} == {
            "production": SERIES,
            "production@multi": SERIES,
        }
        for key, name in zip(SERIES, ["ADA_BTC-5m", "ETH_BTC-5m", "ETH_BTC-15m"], strict=True):
            symbol, timeframe = key.split("@")
            answer = httpx.post(
                f"{url}/v1/signal",
                json=body(data / f"{name}.feather", symbol, timeframe),
                timeout=120,
            )
            assert answer.status_code == 200, answer.text
            signal = answer.json()
            assert (signal["symbol"], signal["timeframe"]) == (symbol, timeframe)
            assert signal["release"] == release.id
            assert (
                signal["edge"]["enabled"] == (release.by_key()[key].evaluation["edge"]["enabled"])
            )
        for symbol, timeframe in (("DOGE_BTC", "5m"), ("ADA_BTC", "15m")):
            frame = data / "ADA_BTC-5m.feather"
            unknown = httpx.post(
                f"{url}/v1/signal", json=body(frame, symbol, timeframe), timeout=60
            )
            assert unknown.status_code == 404, unknown.text
            assert f"'{symbol}' at {timeframe} is covered by no release" in unknown.text
            assert "'ETH_BTC 15m'" in unknown.text


def test_inner_folds_cut_each_timeframe_on_its_own_clock() -> None:
    ada, eth = (
        pd.read_feather(CRYPTO / f"{s}-5m.feather").set_index("date")
        for s in ("ADA_BTC", "ETH_BTC")
    )
    parts = [
        symbol_rows(ada.iloc[-1000:], "ADA", None, timeframe="5m"),
        symbol_rows(eth.iloc[-1500:], "ETH", None, timeframe="5m"),
        symbol_rows(resampled("ETH_BTC"), "ETH", None, timeframe="15m"),
    ]
    splits = time_folds(parts, 3, 12, 200)
    assert len(splits) == 3
    for split in splits:
        starts = [p.inputs.timestamps[t[0]] for p, t in zip(parts, split.test, strict=True)]
        assert starts[0] == starts[1]  # one calendar cut for the 5m series
        assert starts[2] < starts[0]  # the 15m series: its own clock, 20 days not 5
        for train, test in zip(split.train, split.test, strict=True):
            assert len(test) > 0  # ADA starts later: little or no training row in fold 1
            assert len(train) == 0 or train.max() + 12 < test.min()  # purged
    shares = np.array([len(s.test[2]) / len(parts[2]) for s in splits])
    assert np.all((shares > 0.24) & (shares < 0.26))  # a quarter of the 15m rows in each fold
    validation = final_split(parts, 0.2, 12)
    share = len(validation.test[2]) / len(parts[2])
    assert 0.19 < share < 0.21  # the last fifth of the 15m rows, whatever the 5m clock says


def test_retrain_judges_a_candidate_over_every_series(mixed: tuple[Path, Path]) -> None:
    registry, data = mixed
    production = Registry(registry).alias("production@multi").release
    decision = retrain([data], registry, PLAN, "production@multi", GateSettings(holdout_bars=150))
    assert decision["production"] == production
    assert decision["symbols"] == sorted(SERIES)
    candidate = Registry(registry).release(decision["candidate"])
    assert candidate.series_keys == SERIES and candidate.model_set == "multi"
    assert read_decision(Registry(registry), candidate.id) is not None

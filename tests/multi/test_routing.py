"""Routing by coverage: `ai-engine train` over a folder, signals per symbol from the CLI and a
real `ai-engine serve`, per-model-set aliases, and a 404 listing the covered symbols."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from ai_engine.registry import Registry
from multi.pairs import CRYPTO, write_pairs
from service.server import served, wait

CLI = [sys.executable, "-m", "ai_engine.cli"]


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two releases: ADA_BTC + ETH_BTC at 5m (production@multi-5m), ETH_BTC at 15m (the global
    production, trained last), each promoted by its own run."""
    root = tmp_path_factory.mktemp("routed")
    data = write_pairs(root / "data")
    registry = root / "registry"
    common = ["--registry", str(registry), "--preset", "tiny", "--promote"]
    cli("train", "--data", str(data), "--jobs", "2", *common)
    frame = pd.read_feather(CRYPTO / "ETH_BTC-5m.feather").set_index("date")
    slow = frame.resample("15min").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    (root / "slow").mkdir()
    slow.reset_index().to_feather(root / "slow" / "ETH_BTC-15m.feather")
    cli("train", "--data", str(root / "slow"), "--model-set", "eth-15m", *common)
    return registry, data


def test_models_list_shows_the_coverage_of_each_release(routed: tuple[Path, Path]) -> None:
    registry, _ = routed
    aliases = Registry(registry).aliases()
    assert sorted(aliases) == ["production", "production@eth-15m", "production@multi-5m"]
    assert aliases["production"].release == aliases["production@eth-15m"].release
    listing = json.loads(cli("models", "list", "--registry", str(registry), "--json").stdout)
    covers = {r["model_set"]: (r["symbols"], r["timeframe"]) for r in listing["releases"]}
    assert covers == {
        "multi-5m": (["ADA_BTC", "ETH_BTC"], "5m"),
        "eth-15m": (["ETH_BTC"], "15m"),
    }
    shown = cli("models", "show", "production@multi-5m", "--registry", str(registry)).stdout
    assert "symbol       ADA_BTC: " in shown and "symbol       ETH_BTC: " in shown


def test_the_cli_signals_each_symbol_from_the_release_that_covers_it(
    routed: tuple[Path, Path],
) -> None:
    registry, data = routed
    multi = Registry(registry).alias("production@multi-5m").release
    for symbol in ("ADA_BTC", "ETH_BTC"):
        args = ("signal", "--data", str(data / f"{symbol}-5m.feather"), "--registry", str(registry))
        signal = json.loads(cli(*args, "--json").stdout)
        assert (signal["symbol"], signal["timeframe"], signal["release"]) == (symbol, "5m", multi)
    other = data / "XRP_BTC-5m.feather"
    pd.read_feather(data / "ETH_BTC-5m.feather").to_feather(other)
    done = cli("signal", "--data", str(other), "--registry", str(registry), ok=False)
    assert "NotFound: symbol 'XRP_BTC' at 5m is covered by no release" in done.stderr
    assert "'ADA_BTC 5m', 'ETH_BTC 15m', 'ETH_BTC 5m'" in done.stderr


def body(path: Path, symbol: str, timeframe: str, bars: int = 300) -> dict[str, Any]:
    frame = pd.read_feather(path).iloc[-bars:]
    columns = {
        "t": [int(t.value // 1_000_000) for t in frame["date"]],
        **{k[0]: frame[k].tolist() for k in ("open", "high", "low", "close", "volume")},
    }
    return {"symbol": symbol, "timeframe": timeframe, "columns": columns}


def test_the_service_routes_by_symbol_and_answers_404_for_an_unknown_one(
    routed: tuple[Path, Path], tmp_path: Path
) -> None:
    registry, data = routed
    aliases = Registry(registry).aliases()
    with served(registry, tmp_path / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/v1/models", timeout=30).json()["served"] is not None)
        models = httpx.get(f"{url}/v1/models", timeout=60).json()
        assert {c["alias"]: c["symbols"] for c in models["coverage"]} == {
            "production": ["ETH_BTC"],
            "production@eth-15m": ["ETH_BTC"],
            "production@multi-5m": ["ADA_BTC", "ETH_BTC"],
        }
        assert models["served"]["symbols"] == ["ETH_BTC"]
        # a freqtrade pair name is the symbol of its candle file: ADA/BTC is ADA_BTC
        for symbol, file in (
            ("ADA_BTC", "ADA_BTC"),
            ("ETH_BTC", "ETH_BTC"),
            ("ADA/BTC", "ADA_BTC"),
        ):
            answer = httpx.post(
                f"{url}/v1/signal",
                json=body(data / f"{file}-5m.feather", symbol, "5m"),
                timeout=120,
            )
            assert answer.status_code == 200, answer.text
            signal = answer.json()
            assert signal["symbol"] == symbol
            assert signal["release"] == aliases["production@multi-5m"].release
        unknown = httpx.post(
            f"{url}/v1/signal", json=body(data / "ADA_BTC-5m.feather", "DOGE_BTC", "5m"), timeout=60
        )
        assert unknown.status_code == 404, unknown.text
        assert "'DOGE_BTC' at 5m is covered by no release" in unknown.text
        assert "'ADA_BTC 5m'" in unknown.text
        pinned = httpx.post(
            f"{url}/v1/signal",
            params={"release": "production@eth-15m"},
            json=body(data / "ADA_BTC-5m.feather", "ADA_BTC", "5m"),
            timeout=60,
        )
        assert pinned.status_code == 404 and "not covered by release" in pinned.text
        for symbol in ("ADA_BTC", "ETH_BTC"):  # OIP v2 routes parameters.symbol the same way
            signal = httpx.post(
                f"{url}/v1/signal", json=body(data / f"{symbol}-5m.feather", symbol, "5m")
            ).json()
            inferred = httpx.post(
                f"{url}/v2/models/ensemble/infer",
                json=infer_body(data / f"{symbol}-5m.feather", symbol, "5m"),
                timeout=60,
            )
            assert inferred.status_code == 200, inferred.text
            outputs = {o["name"]: o["data"] for o in inferred.json()["outputs"]}
            assert inferred.json()["model_version"] == signal["release"]
            assert outputs["action"] == [signal["action"]]
            assert outputs["forecast"] == pytest.approx(signal["forecast"])
        missing = httpx.post(
            f"{url}/v2/models/ensemble/infer",
            json=infer_body(data / "ADA_BTC-5m.feather", "DOGE_BTC", "5m"),
            timeout=60,
        )
        assert missing.status_code == 404 and set(missing.json()) == {"error"}
        assert "'DOGE_BTC' at 5m is covered by no release" in missing.json()["error"]


def infer_body(path: Path, symbol: str, timeframe: str, bars: int = 300) -> dict[str, Any]:
    """The same candles as ``body``, as an OIP v2 tensor with the symbol as a parameter."""
    columns = body(path, symbol, timeframe, bars)["columns"]
    rows = [[columns[k][i] for k in "tohlcv"] for i in range(bars)]
    tensor = {"name": "candles", "shape": [bars, 6], "datatype": "FP64", "data": rows}
    return {"parameters": {"symbol": symbol, "timeframe": timeframe}, "inputs": [tensor]}


def test_every_route_answers_each_series_from_the_same_release_and_evidence(
    routed: tuple[Path, Path], tmp_path: Path
) -> None:
    """/v1/signal, /v1/forecast, /v1/stream, /v2 infer and /v1/risk/proposal go through one data
    plane: for each series they agree on the release, the action and the evidence (the
    proposal used the served release's, whatever the symbol, before)."""
    from service.helpers import ADMIN

    registry, data = routed
    aliases = Registry(registry).aliases()
    expected = {
        ("ADA_BTC", "5m"): aliases["production@multi-5m"].release,
        ("ETH_BTC", "5m"): aliases["production@multi-5m"].release,
    }
    with served(registry, tmp_path / "serve.log") as url:
        wait(lambda: httpx.get(f"{url}/v1/models", timeout=30).json()["served"] is not None)
        client = httpx.Client(base_url=url, headers=ADMIN, timeout=120)
        for (symbol, timeframe), release in expected.items():
            request = body(data / f"{symbol}-{timeframe}.feather", symbol, timeframe)
            signal = client.post("/v1/signal", json=request).json()
            assert (signal["release"], signal["symbol"]) == (release, symbol), signal
            forecast = client.post("/v1/forecast", json=request).json()
            assert forecast["release"] == release
            assert forecast["forecast"] == pytest.approx(signal["forecast"])
            streamed = client.post(
                f"/v1/stream/{symbol}/{timeframe}", json={"columns": request["columns"]}
            )
            assert streamed.status_code == 200, streamed.text
            streamed_signal = streamed.json()
            for key in ("release", "action", "edge", "decision", "forecast"):
                assert streamed_signal[key] == signal[key], key
            inferred = client.post(
                "/v2/models/ensemble/infer",
                json=infer_body(data / f"{symbol}-{timeframe}.feather", symbol, timeframe),
            ).json()
            assert inferred["model_version"] == release
            outputs = {o["name"]: o["data"] for o in inferred["outputs"]}
            assert outputs["action"] == [signal["action"]]
            proposal = client.post("/v1/risk/proposal", json={**request, "equity": 10_000.0})
            assert proposal.status_code == 200, proposal.text
            sized = proposal.json()
            assert (sized["release"], sized["action"]) == (release, signal["action"])
        client.close()

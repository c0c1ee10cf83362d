"""One release for several symbols: global sequence models, pooled or per-symbol trees, and an
edge verdict per symbol (a symbol without an edge holds while the other trades)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ai_engine.data import make_candles
from ai_engine.engine import Engine
from ai_engine.errors import NotFound
from ai_engine.multi.pooling import symbol_rows, time_folds
from ai_engine.multi.sources import load_sources
from ai_engine.multi.tasks import plan_of
from ai_engine.multi.training import MultiReport, train_pooled
from ai_engine.registry import Registry
from ai_engine.serving import series_view
from ai_engine.serving.router import LocalEngines, Router
from ai_engine.synthetic import candles_from_returns, persistent_drift, random_walk
from ai_engine.training import make_plan
from multi.pairs import PLAN

FRAMES = {
    "EDGE": candles_from_returns(persistent_drift(3000, 0, drift_sigma=0.002), 0),
    "WALK": candles_from_returns(random_walk(3000, 5), 5),
}
"""A market whose drift persists (an edge to find) and a random walk (none), same dates."""


@pytest.fixture(scope="module")
def edge_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, MultiReport]:
    registry = Registry(tmp_path_factory.mktemp("edge") / "registry")
    parts = [symbol_rows(frame, symbol, None) for symbol, frame in FRAMES.items()]
    torch.set_num_threads(1)
    report = train_pooled(
        parts, registry, make_plan("tiny"), "syn-5m", "5m", "pooled", "production"
    )
    return registry, report


def test_the_release_declares_its_symbols_and_holds_one_verdict_each(
    edge_release: tuple[Registry, MultiReport],
) -> None:
    registry, _ = edge_release
    release = registry.resolve("production")
    assert release.symbols == ["EDGE", "WALK"] and release.timeframe == "5m"
    assert all(m.symbol is None for m in release.members)  # one global model per family
    edges = {s.symbol: s.evaluation["edge"]["enabled"] for s in release.series}
    assert edges == {"EDGE": True, "WALK": False}
    assert all((s.oof_rows or 0) > 1000 for s in release.series)
    edge_metrics = release.by_key()["EDGE@5m"].metrics
    assert edge_metrics["ensemble"]["mae"] < edge_metrics["zero_forecast"]["mae"]


def test_a_symbol_without_an_edge_holds_while_the_other_trades(
    edge_release: tuple[Registry, MultiReport],
) -> None:
    registry, _ = edge_release
    engine = Engine.load(registry, "production")
    signals = {
        symbol: series_view(engine, symbol).signal(make_candles(frame, symbol, "5m"))
        for symbol, frame in FRAMES.items()
    }
    assert signals["WALK"].action == "HOLD" and signals["WALK"].reason == "no_edge"
    assert signals["EDGE"].reason != "no_edge" and signals["EDGE"].edge["enabled"]
    assert signals["EDGE"].symbol == "EDGE" and signals["EDGE"].release == engine.release.id
    view = series_view(engine, "EDGE")
    assert view is series_view(engine, "EDGE")  # cached
    assert [m.bundle for m in view.members] == [m.bundle for m in engine.members]  # shared


def test_an_unknown_symbol_is_not_found_naming_the_covered_ones(
    edge_release: tuple[Registry, MultiReport],
) -> None:
    registry, _ = edge_release
    router = Router(LocalEngines(registry, "production"))  # the service's routing rule
    with pytest.raises(NotFound, match=r"'NOPE' is not covered.*\['EDGE', 'WALK'\]"):
        series_view(Engine.load(registry, "production"), "NOPE")
    with pytest.raises(NotFound, match=r"covered: \['EDGE 5m', 'WALK 5m'\]"):
        router.route("NOPE", "5m")
    edge = router.route("EDGE", "5m")
    assert edge.release.id == registry.alias("production").release


def test_per_symbol_trees_give_each_symbol_its_own_trees_and_shared_networks(
    pairs: Path, tmp_path: Path
) -> None:
    sources, _ = load_sources([pairs])
    parts = [symbol_rows(s.candles.frame, s.candles.symbol, s.path) for s in sources]
    registry = Registry(tmp_path / "registry")
    report = train_pooled(parts, registry, plan_of(PLAN), "pairs", "5m", "per_symbol")
    owners = sorted((m.family, m.symbol or "*") for m in report.release.members)
    assert owners == [
        ("lightgbm", "ADA_BTC"),
        ("lightgbm", "ETH_BTC"),
        ("nhits", "*"),
        ("patchtst", "*"),
        ("xgboost", "ADA_BTC"),
        ("xgboost", "ETH_BTC"),
    ]
    engine = Engine.load(registry, report.release.id)
    assert engine.healthy_count == 6
    for source in sources:
        view = series_view(engine, source.candles.symbol)
        assert sorted(m.family for m in view.members) == [
            "lightgbm",
            "nhits",
            "patchtst",
            "xgboost",
        ]
        signal = view.signal(source.candles)
        assert signal.consensus["healthy"] == 4 and signal.symbol == source.candles.symbol


def test_inner_folds_are_cut_by_time_with_a_purge_for_every_symbol() -> None:
    late = FRAMES["WALK"].iloc[1000:]  # starts later: fewer rows, the same calendar
    parts = [symbol_rows(FRAMES["EDGE"], "EDGE", None), symbol_rows(late, "LATE", None)]
    splits = time_folds(parts, 3, 12, 200)
    assert len(splits) == 3
    for split in splits:
        starts = [p.inputs.timestamps[t[0]] for p, t in zip(parts, split.test, strict=True)]
        assert len(set(starts)) == 1  # one calendar period for every symbol
        for train, test in zip(split.train, split.test, strict=True):
            assert train.max() + 12 < test.min()  # no target reaches into the test period
    assert np.all(np.diff([s.test[0][0] for s in splits]) > 0)
    assert isinstance(late.index, pd.DatetimeIndex)

"""The training pipeline: time split with a purge gap, plans, and nothing published on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_engine import training
from ai_engine.data import make_candles
from ai_engine.engine import Engine
from ai_engine.errors import ConfigError
from ai_engine.registry import Registry
from ai_engine.training import TrainingPlan, make_plan, time_split, train

from synthetic import synthetic_frame
from tiny import TINY


def test_time_split_keeps_order_and_purges_the_horizon() -> None:
    train_rows, val_rows = time_split(1000, 0.2, gap=12)
    assert (train_rows.start, train_rows.stop) == (0, 788)
    assert (val_rows.start, val_rows.stop) == (800, 1000)
    with pytest.raises(ConfigError, match="at least 100 training"):
        time_split(100, 0.2, gap=12)


def test_config_file_overrides_and_rejects_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        'weighting = "validation"\n[families.xgboost]\nmax_depth = 3\n'
        "[ensemble]\nmin_consensus = 2\n"
    )
    plan = make_plan("quick", good)
    assert plan.config_for("xgboost", training.CURRENT_SPEC)["max_depth"] == 3
    assert plan.ensemble.min_consensus == 2 and plan.weighting == "validation"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"families": {"nhits": {"hidden": 3}}}))
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        make_plan("quick", bad)
    bad.write_text(json.dumps({"learning_rate": 1}))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['learning_rate'\]"):
        make_plan("quick", bad)


def tiny_plan(**changes: object) -> TrainingPlan:
    return TrainingPlan(preset="quick", families=TINY, **changes)  # type: ignore[arg-type]


def test_train_publishes_a_release_that_loads(tmp_path: Path) -> None:
    candles = make_candles(synthetic_frame(700), "SYN", "5m")
    registry = Registry(tmp_path / "reg")
    report = train(candles, registry, tiny_plan(weighting="validation"), promote_to="production")
    assert [m.family for m in report.release.members] == [
        "xgboost",
        "lightgbm",
        "nhits",
        "patchtst",
    ]
    weights = report.release.ensemble["weights"]
    assert sum(weights.values()) == pytest.approx(1.0) and len(set(weights.values())) > 1
    engine = Engine.load(registry)
    assert engine.healthy_count == 4 and engine.release.id == report.release.id
    assert engine.signal(candles).release == report.release.id


def test_a_failed_run_publishes_nothing_and_keeps_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candles = make_candles(synthetic_frame(700), "SYN", "5m")
    registry = Registry(tmp_path / "reg")
    first = train(candles, registry, tiny_plan(), promote_to="production")
    before = sorted(
        p.relative_to(registry.root) for p in registry.root.rglob("*") if p.name != ".lock"
    )
    calls = {"n": 0}
    real_save = training.save_bundle

    def failing_save(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(training, "save_bundle", failing_save)
    with pytest.raises(OSError, match="disk full"):
        train(candles, registry, tiny_plan(), promote_to="production")
    after = sorted(
        p.relative_to(registry.root) for p in registry.root.rglob("*") if p.name != ".lock"
    )
    assert after == before
    assert registry.alias("production").release == first.release.id

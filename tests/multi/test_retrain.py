"""`ai-engine retrain`: a candidate replaces production only when it is not worse on the newest
held-out bars; a deliberately crippled candidate is refused, and the reason is in `models show`
and the logs; a better candidate (against a crippled production) is promoted."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ai_engine.errors import ConfigError
from ai_engine.multi.gate import GateSettings, read_decision
from ai_engine.registry import Registry, Release, ReleaseMember
from multi.pairs import write_pairs

CLI = [sys.executable, "-m", "ai_engine.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def crippled(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Evidence whose combination weights are -3 for every member at every horizon: forecasts
    pointing the wrong way, three times too far."""
    weights = {f: [-3.0] * len(w) for f, w in evaluation["weights"].items()}
    return {**evaluation, "weights": weights}


def publish_crippled(registry: Registry, source: str) -> str:
    """A new release pinning copies of ``source``'s bundles, with crippled evidence."""
    base = registry.resolve(source)
    staged = [
        registry.stage_bundle(
            base.model_set,
            m.family,
            m.version,
            functools.partial(shutil.copytree, registry.bundle_path(m), dirs_exist_ok=True),
        )
        for m in base.members
    ]

    def make(members: list[ReleaseMember], release_id: str) -> Release:
        series = [s.model_copy(update={"evaluation": crippled(s.evaluation)}) for s in base.series]
        return base.model_copy(
            update={
                "id": release_id,
                "created_at": datetime.now(UTC).isoformat(),
                "members": [
                    m.model_copy(update={"symbol": b.symbol})
                    for m, b in zip(members, base.members, strict=True)
                ],
                "evaluation": crippled(base.evaluation),
                "series": series,
            }
        )

    return registry.publish(staged, make).id


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("retrain")
    data = write_pairs(root / "data")
    registry = root / "registry"
    cli("train", "--data", str(data), "--registry", str(registry), "--preset", "tiny", "--promote")
    return registry, data, Registry(registry).alias("production").release


def test_a_crippled_candidate_is_refused_and_says_why(
    trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    source, data, production = trained
    registry = tmp_path / "registry"
    shutil.copytree(source, registry)
    bad = publish_crippled(Registry(registry), "production")
    args = ["--data", str(data), "--registry", str(registry), "--holdout-bars", "200"]
    done = cli("retrain", *args, "--candidate", bad, "--json")
    decision = json.loads(done.stdout)
    assert decision["promoted"] is False and decision["production"] == production
    assert decision["reason"].startswith("worse on the last 200 bars of ADA_BTC, ETH_BTC: error")
    cand, prod = decision["candidate_score"], decision["production_score"]
    assert cand["mae_ratio"] > prod["mae_ratio"] and cand["rows"] == prod["rows"] == 400
    assert Registry(registry).alias("production").release == production  # unchanged
    assert f"quality gate refused {bad}" in done.stderr  # the log line
    shown = cli("models", "show", bad, "--registry", str(registry)).stdout
    assert f"quality gate refused against {production}: worse on the last 200 bars" in shown
    assert read_decision(registry, bad) == decision


def test_a_better_candidate_is_trained_and_promoted(
    trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    source, data, _ = trained
    registry = tmp_path / "registry"
    shutil.copytree(source, registry)
    reg = Registry(registry)
    bad = publish_crippled(reg, "production")
    reg.promote(bad, "production")
    args = ["--data", str(data), "--registry", str(registry), "--holdout-bars", "200"]
    decision = json.loads(cli("retrain", *args, "--preset", "tiny", "--json").stdout)
    assert decision["promoted"] is True, decision["reason"]
    assert decision["production"] == bad
    new = reg.alias("production").release
    assert new == decision["candidate"] != bad
    assert reg.release(new).symbols == ["ADA_BTC", "ETH_BTC"]
    assert reg.release(new).model_set == "multi-5m"
    assert read_decision(registry, new)["promoted"] is True  # type: ignore[index]


def test_gate_thresholds_are_checked() -> None:
    with pytest.raises(ConfigError, match="--holdout-bars must be >= 50"):
        GateSettings(holdout_bars=10)
    with pytest.raises(ConfigError, match="must be >= 0"):
        GateSettings(max_mae_increase=-0.1)

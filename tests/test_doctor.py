"""ai-engine doctor: one line per model, exit 0 (production OK), 1 (no consensus), 2 (unusable)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_engine.cli import app
from ai_engine.doctor import diagnose
from ai_engine.registry import Registry
from trained import bundle_of, publish_copy, tiny_registry

runner = CliRunner()


def doctor(root: Path) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["doctor", "--registry", str(root)], env={"COLUMNS": "250"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output.splitlines()


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return tiny_registry(tmp_path / "registry")


def test_a_healthy_registry_exits_0_with_one_line_per_model(registry: Registry) -> None:
    release = registry.resolve("production").id
    code, lines = doctor(registry.root)
    assert code == 0
    assert (
        lines[1] == f"release {release} [production]: 4/4 models healthy, quorum 3: can reach "
        f"consensus"
    )
    edge = registry.resolve("production").evaluation["edge"]
    # the verdict is a line of its own; without an edge it is a warning, the exit stays 0
    assert lines[2].strip().startswith("edge at h=" if edge["enabled"] else "warning: signals")
    assert [line.split()[:2] for line in lines[3:7]] == [
        ["OK", "xgboost"],
        ["OK", "lightgbm"],
        ["OK", "nhits"],
        ["OK", "patchtst"],
    ]
    assert lines[-1] == (
        f"production -> {release}: 4/4 models healthy, quorum 3: can reach consensus (exit 0)"
    )


def test_one_broken_model_is_named_and_production_still_reaches_consensus(
    registry: Registry,
) -> None:
    folder = bundle_of(registry, "patchtst")
    (folder / "scaler.json").unlink()
    code, lines = doctor(registry.root)
    assert code == 0
    assert any(
        line.split()[:2] == ["FAIL", "patchtst"]
        and line.endswith(f"BundleError: {folder}: scaler.json missing")
        for line in lines
    )
    assert "3/4 models healthy" in lines[-1]


def test_two_broken_models_exit_1(registry: Registry) -> None:
    (bundle_of(registry, "xgboost") / "scaler.json").unlink()
    weights = bundle_of(registry, "nhits") / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1])
    code, lines = doctor(registry.root)
    assert code == 1
    assert sum(line.startswith("  FAIL") for line in lines) == 2
    assert "CANNOT reach consensus" in lines[1]
    assert lines[-1].startswith(
        f"production -> {registry.resolve('production').id}: cannot reach "
        f"consensus: 2 of 4 models healthy, the quorum needs 3"
    )
    assert lines[-1].endswith("(exit 1)")


def test_a_broken_candidate_is_reported_but_production_decides(registry: Registry) -> None:
    candidate = publish_copy(registry, "candidate")
    for family in ("xgboost", "lightgbm"):
        (bundle_of(registry, family, candidate.id) / "probe.json").write_text("{}")
    report = diagnose(registry.root)
    assert report.exit_code == 0
    check = next(r for r in report.releases if r.release_id == candidate.id)
    assert check.aliases == ("candidate",) and not check.can_reach_consensus
    assert [m.family for m in check.models if not m.ok] == ["xgboost", "lightgbm"]


def test_no_production_alias_exits_1(registry: Registry) -> None:
    (registry.aliases_dir / "production.json").unlink()
    code, lines = doctor(registry.root)
    assert code == 1 and lines[-1].startswith("production: no such alias")


def test_an_unreadable_other_release_is_reported_not_fatal(registry: Registry) -> None:
    (registry.releases_dir / "r20000101_000000.json").write_text("{")
    code, lines = doctor(registry.root)
    assert code == 0
    assert any(line.startswith("release r20000101_000000: unreadable:") for line in lines)


@pytest.mark.parametrize("damage", ["missing", "file", "alias-json", "alias-target"])
def test_an_unusable_registry_exits_2(registry: Registry, damage: str, tmp_path: Path) -> None:
    root = registry.root
    if damage == "missing":
        root = tmp_path / "nowhere"
    elif damage == "file":
        root = tmp_path / "registry.txt"
        root.write_text("not a registry")
    elif damage == "alias-json":
        (registry.aliases_dir / "production.json").write_text("{")
    else:
        alias = json.loads((registry.aliases_dir / "production.json").read_text())
        (registry.aliases_dir / "production.json").write_text(
            json.dumps({**alias, "release": "r19990101_000000"})
        )
    code, lines = doctor(root)
    assert code == 2, lines
    assert lines[-1].endswith("(exit 2)")

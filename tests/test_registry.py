"""Registry operations through the CLI: list, show, promote, rollback (history), verify, gc."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ai_engine.bundle import load_bundle
from ai_engine.cli import app
from ai_engine.cli import common as cli_common
from ai_engine.engine import Engine
from ai_engine.errors import RegistryError
from ai_engine.multi.gate import read_decision, record_decision
from ai_engine.registry import Registry
from trained import bundle_of, publish_copy, tiny_registry

runner = CliRunner()


def cli(registry: Registry, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--registry", str(registry.root)], env={"COLUMNS": "250"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def three(tmp_path: Path) -> tuple[Registry, list[str]]:
    """A registry with releases r1 (production), r2, r3 (oldest first)."""
    registry = tiny_registry(tmp_path / "registry")
    ids = [registry.resolve("production").id]
    ids += [publish_copy(registry).id, publish_copy(registry).id]
    return registry, ids


def test_list_and_show(three: tuple[Registry, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "out", Console(width=400))  # tables never wrap ids
    registry, (r1, r2, r3) = three
    code, out = cli(registry, "models", "list")
    assert code == 0
    assert all(r in out for r in (r1, r2, r3)) and "production" in out
    assert out.count("TEST-5m/") == 12
    code, out = cli(registry, "models", "show", "production", "--json")
    assert code == 0 and json.loads(out)["id"] == r1
    assert json.loads(cli(registry, "models", "show", r3, "--json")[1])["id"] == r3
    code, out = cli(registry, "models", "show", "production")
    assert code == 0 and f"release      {r1}" in out and "aliases      production" in out
    code, out = cli(registry, "models", "list", "--json")
    listing = json.loads(out)
    assert [r["id"] for r in listing["releases"]] == [r1, r2, r3]
    assert listing["aliases"] == {"production": r1} and len(listing["bundles"]) == 12
    with pytest.raises(RegistryError, match="no alias or release named 'r0'; found"):
        cli(registry, "models", "show", "r0")


def test_promote_keeps_history_and_rollback_walks_it_back(
    three: tuple[Registry, list[str]],
) -> None:
    registry, (r1, r2, r3) = three
    assert cli(registry, "models", "promote", r2)[1].strip() == f"production -> {r2}"
    assert cli(registry, "models", "promote", r3)[1].strip() == f"production -> {r3}"
    assert registry.alias("production").history == [r2, r1]
    cli(registry, "models", "promote", r3)  # promoting the current release changes nothing
    assert registry.alias("production").history == [r2, r1]
    cli(registry, "models", "promote", r1, "--alias", "candidate")
    assert registry.alias("candidate").release == r1 and registry.resolve("production").id == r3

    assert cli(registry, "models", "rollback")[1].strip() == f"production -> {r2}"
    assert Engine.load(registry).release.id == r2
    assert registry.alias("production").history == [r1]
    assert cli(registry, "models", "rollback")[1].strip() == f"production -> {r1}"
    with pytest.raises(
        RegistryError, match=f"no earlier release to roll back to .it points at {r1}"
    ):
        cli(registry, "models", "rollback")
    with pytest.raises(RegistryError, match="release 'r9' not found"):
        cli(registry, "models", "promote", "r9")
    assert registry.resolve("production").id == r1


def test_verify_reports_each_model_and_fails_when_one_does(
    three: tuple[Registry, list[str]],
) -> None:
    registry, (r1, r2, _r3) = three
    code, out = cli(registry, "models", "verify")
    assert code == 0 and out.count("  OK  ") == 12 and "12 of 12 models OK in 3 release(s)" in out
    broken = bundle_of(registry, "lightgbm", r2)
    (broken / "scaler.json").unlink()
    code, out = cli(registry, "models", "verify", r2)
    assert code == 1
    assert "FAIL  lightgbm" in out and f"BundleError: {broken}: scaler.json missing" in out
    assert f"release {r2}: 3/4 models healthy, quorum 3: can reach consensus" in out
    assert cli(registry, "models", "verify", "production")[0] == 0
    assert r1 in cli(registry, "models", "verify", "production")[1]


def test_gc_keeps_newest_and_aliased_releases_and_removes_the_rest(
    three: tuple[Registry, list[str]],
) -> None:
    registry, (r1, r2, r3) = three
    r4 = publish_copy(registry).id
    registry.promote(r3, "candidate")
    # leftovers of crashes: a staged folder, an unreleased bundle, a half folder, a temp file
    (registry.staging_dir / "0123abcd").mkdir(parents=True)
    (registry.staging_dir / "0123abcd" / "model.ubj").write_bytes(b"half")
    orphan = registry.bundles_dir / "TEST-5m" / "xgboost" / "v20300101_000000"
    shutil.copytree(bundle_of(registry, "xgboost"), orphan)
    half = registry.bundles_dir / "TEST-5m" / "nhits" / "v20300101_000001"
    half.mkdir()
    (half / "weights.safetensors").write_bytes(b"half")
    (registry.releases_dir / ".r1.json.abc.tmp").write_text("{")
    imported = registry.bundles_dir / "imported" / "legacy-nhits" / "v20250101_000000"
    imported.mkdir(parents=True)
    (imported / "manifest.json").write_text("{}")
    assert half not in registry.bundle_dirs()  # never listed: no manifest
    for judged in (r2, r3, "r20000101_000000"):  # the gate's decisions; the last release is gone
        record_decision(registry, {"candidate": judged, "promoted": False, "reason": "test"})
    (registry.gates_dir / f".{r3}.json.abc.tmp").write_text("{")

    code, out = cli(registry, "models", "gc", "--keep", "1")
    assert code == 0
    assert f"removed release {r2}" in out and f"kept 3 release(s): {r1}, {r3}, {r4}" in out
    assert [r.id for r in registry.releases()] == [r1, r3, r4]
    assert "removed leftover .staging/0123abcd" in out
    assert "removed leftover releases/.r1.json.abc.tmp" in out
    assert f"removed bundle {orphan.relative_to(registry.root)}" in out
    assert f"removed bundle {half.relative_to(registry.root)}" in out
    assert not orphan.exists() and not half.exists() and imported.exists()
    assert f"removed gate decision gates/{r2}.json" in out
    assert "removed gate decision gates/r20000101_000000.json" in out
    assert f"removed leftover gates/.{r3}.json.abc.tmp" in out
    assert [p.name for p in registry.gates_dir.iterdir()] == [f"{r3}.json"]
    assert read_decision(registry, r3) is not None and read_decision(registry, r2) is None
    assert not any(registry.staging_dir.iterdir())
    used = {str(registry.bundle_path(m)) for r in registry.releases() for m in r.members}
    assert {str(p) for p in registry.bundle_dirs()} == used | {str(imported)}
    for release in (r1, r3, r4):
        assert Engine.load(registry, release).healthy_count == 4


def test_gc_never_deletes_a_bundle_a_kept_release_shares(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    first = registry.resolve("production")
    removed = publish_copy(registry)
    shared = removed.model_copy(
        update={"id": "r29990101_000000", "created_at": "2999-01-01T00:00:00+00:00"}
    )
    (registry.releases_dir / f"{shared.id}.json").write_text(json.dumps(shared.model_dump()))
    registry.promote(shared.id)  # production -> shared; its history keeps the first release
    report = registry.gc(keep=0)
    assert report.removed_releases == [removed.id] and report.removed_bundles == []
    assert {r.id for r in registry.releases()} == {first.id, shared.id}
    assert Engine.load(registry).healthy_count == 4
    assert Engine.load(registry, first.id).healthy_count == 4


def test_gc_refuses_when_a_release_file_is_unreadable(three: tuple[Registry, list[str]]) -> None:
    registry, (_r1, r2, _r3) = three
    (registry.releases_dir / f"{r2}.json").write_text("{broken")
    before = sorted(registry.bundle_dirs())
    with pytest.raises(RegistryError, match=f"{r2}.json: not valid JSON"):
        registry.gc(keep=0)
    assert sorted(registry.bundle_dirs()) == before


def test_gc_leaves_a_live_writers_staging_alone(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    source = bundle_of(registry, "xgboost")
    staged = registry.stage_bundle(
        "TEST-5m",
        "xgboost",
        "v20300101_000000",
        lambda f: shutil.copytree(source, f, dirs_exist_ok=True),
    )
    assert registry.staging_leftovers() == []
    report = registry.gc(keep=0)
    assert report.removed_leftovers == [] and staged.staging_path.is_dir()
    [member] = registry.add_bundles([staged])
    assert load_bundle(registry.root / member.path).manifest.family == "xgboost"
    assert not any(registry.staging_dir.iterdir())  # the lock file went with the commit


def test_a_failed_write_leaves_no_staging(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")

    def fail(folder: Path) -> None:
        (folder / "model.ubj").write_bytes(b"x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.stage_bundle("TEST-5m", "xgboost", "v1", fail)
    assert not any(registry.staging_dir.iterdir())

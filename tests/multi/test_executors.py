"""Fan-out: the same tasks and seeds give byte-identical bundles in this process, in a local
process pool and on a real local Ray instance; tasks publish through the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_engine.errors import ConfigError
from ai_engine.multi.executors import InlineExecutor, LocalPoolExecutor, RayExecutor, make_executor
from ai_engine.multi.sources import load_sources
from ai_engine.multi.tasks import make_tasks, run_tasks
from ai_engine.registry import Registry
from multi.pairs import PLAN


def bundle_files(root: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(model set, family) -> sha256 of every file the bundle's manifest lists."""
    out = {}
    for manifest in sorted((root / "bundles").glob("*/*/*/manifest.json")):
        model_set, family = manifest.parent.parent.parent.name, manifest.parent.parent.name
        out[(model_set, family)] = json.loads(manifest.read_text())["files"]
    return out


def run(executor: object, pairs: Path, root: Path) -> list[dict[str, object]]:
    sources, _ = load_sources([pairs])
    tasks = make_tasks(sources, root, PLAN, group_by="symbol", promote="production")
    return run_tasks(tasks, executor, root, "production")  # type: ignore[arg-type]


def test_the_pool_and_ray_make_the_same_bundles_as_one_process(pairs: Path, tmp_path: Path) -> None:
    import ray  # the [ray] extra is part of the test install (Makefile)

    inline = run(InlineExecutor(), pairs, tmp_path / "inline")
    pooled = run(LocalPoolExecutor(2), pairs, tmp_path / "pool")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        on_ray = run(RayExecutor(), pairs, tmp_path / "ray")
    finally:
        ray.shutdown()
    reference = bundle_files(tmp_path / "inline")
    assert len(reference) == 8  # two symbols x four families
    assert bundle_files(tmp_path / "pool") == reference
    assert bundle_files(tmp_path / "ray") == reference
    for results, root in ((inline, "inline"), (pooled, "pool"), (on_ray, "ray")):
        registry = Registry(tmp_path / root)
        assert sorted(r["model_set"] for r in results) == ["ADA_BTC-5m", "ETH_BTC-5m"]
        assert sorted(registry.aliases()) == [
            "production",
            "production@ADA_BTC-5m",
            "production@ETH_BTC-5m",
        ]
        assert all(r["peak_rss_mb"] > 0 and isinstance(r["seconds"], float) for r in results)


def test_executor_options_are_checked() -> None:
    assert isinstance(make_executor("local", 1), InlineExecutor)
    assert isinstance(make_executor("local", 3), LocalPoolExecutor)
    with pytest.raises(ConfigError, match="--executor must be one of"):
        make_executor("dask", 2)
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("local", 2, "auto")
    with pytest.raises(ConfigError, match="--jobs expects a number >= 1"):
        make_executor("local", 0)

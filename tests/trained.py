"""A tiny trained release (all four families), trained once per test process, copied per test,
and helpers that break one bundle in a chosen way."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from ai_engine.data import Candles, make_candles
from ai_engine.models.family import default_members, descriptor, get_family
from ai_engine.registry import Registry, Release, ReleaseMember
from ai_engine.training import TrainingPlan, train

from synthetic import synthetic_frame
from tiny import TINY

WEIGHTS = {
    family: descriptor(family).files_for(get_family(family).config_class())[0]
    for family in default_members()
}
"""Family -> the first weight file its bundle holds (from the family's descriptor)."""


def candles() -> Candles:
    return make_candles(synthetic_frame(700, seed=3), "TEST", "5m")


@functools.lru_cache(maxsize=1)
def _trained_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="trained-registry-"))
    atexit.register(shutil.rmtree, root, True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(
            candles(),
            Registry(root / "registry"),
            TrainingPlan(preset="quick", families=TINY),
            "production",
        )
    finally:
        torch.set_num_threads(threads)
    return root / "registry"


def tiny_registry(dest: Path) -> Registry:
    """A private copy of the tiny trained registry (one release, promoted to production)."""
    shutil.copytree(_trained_root(), dest)
    return Registry(dest)


def bundle_of(registry: Registry, family: str, release: str = "production") -> Path:
    member = next(m for m in registry.resolve(release).members if m.family == family)
    return registry.bundle_path(member)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_manifest(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change manifest.json in place (no re-pinning: see ``repin``)."""
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def refresh_checksum(bundle: Path, name: str) -> None:
    """Record the current sha256 of ``name`` in the manifest (a consistent rewrite)."""
    edit_manifest(bundle, lambda m: m["files"].__setitem__(name, sha256(bundle / name)))


def repin(registry: Registry) -> None:
    """Re-pin every release to its bundles' current manifests (someone rewrote them wholesale)."""
    for release in registry.releases():
        members = [
            m.model_copy(
                update={"manifest_sha256": sha256(registry.bundle_path(m) / "manifest.json")}
            )
            for m in release.members
        ]
        path = registry.releases_dir / f"{release.id}.json"
        path.write_text(json.dumps(release.model_copy(update={"members": members}).model_dump()))


def _copy(source: Path, folder: Path) -> None:
    shutil.copytree(source, folder, dirs_exist_ok=True)


def publish_copy(
    registry: Registry, promote_to: str | None = None, source: str = "production"
) -> Release:
    """Publish a new release whose bundles are copies of ``source``'s (no training)."""
    base = registry.resolve(source)
    staged = [
        registry.stage_bundle(
            base.model_set, m.family, m.version, functools.partial(_copy, registry.bundle_path(m))
        )
        for m in base.members
    ]

    def make(members: list[ReleaseMember], release_id: str) -> Release:
        return base.model_copy(
            update={
                "id": release_id,
                "members": members,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )

    return registry.publish(staged, make, promote_to)

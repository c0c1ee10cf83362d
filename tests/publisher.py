"""A real publish in its own process, for the crash and concurrency tests (not a test module).

    python publisher.py REGISTRY VERSION [--promote ALIAS] [--ready FILE --go FILE]

Loads the four bundles of REGISTRY's production release, then publishes them again as version
VERSION exactly as ``training.train`` publishes a run: ``save_bundle`` into staging for each
member, then ``Registry.publish`` (rename the bundles, write the release, move the alias).
Training itself is skipped: it does not touch the registry.

``PUBLISH_KILL_WHEN=<step>`` makes the process SIGKILL itself as soon as the registry folder
shows ``step`` (one of ``STEPS``: staging folders begun or complete, bundles renamed into
place, temporary release or alias files written). The folder is looked at before every
durable operation (``os.fsync``, ``os.rename``, ``os.replace``) and every
``Registry.stage_bundle`` call, so the kill does not depend on how many of each a publish makes.
With ``--ready/--go`` it writes READY once loaded and waits for GO before publishing, so that
two processes publish at the same moment.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ai_engine.bundle import BundleInfo, load_bundle, save_bundle
from ai_engine.models.base import Forecaster
from ai_engine.registry import Registry, Release, ReleaseMember


def _staging_folders(root: Path) -> list[Path]:
    staging = root / ".staging"
    return [p for p in staging.iterdir() if p.is_dir()] if staging.is_dir() else []


def _staged_with_manifest(root: Path) -> int:
    return sum((folder / "manifest.json").is_file() for folder in _staging_folders(root))


STEPS: dict[str, Callable[[Path, str], bool]] = {
    # a file of the first bundle exists in its staging folder
    "first-bundle-begun": lambda root, _v: any(any(f.iterdir()) for f in _staging_folders(root)),
    # two staging folders hold their manifest.json (written last)
    "two-bundles-staged": lambda root, _v: _staged_with_manifest(root) >= 2,
    # all four staging folders hold their manifest.json
    "four-bundles-staged": lambda root, _v: _staged_with_manifest(root) >= 4,
    # two bundles of the new version renamed into bundles/
    "two-bundles-renamed": lambda root, v: len(list(root.glob(f"bundles/*/*/{v}"))) >= 2,
    # the release's temporary file exists in releases/
    "release-temp-written": lambda root, _v: any(root.glob("releases/.*.tmp")),
    # the alias's temporary file exists in aliases/
    "alias-temp-written": lambda root, _v: any(root.glob("aliases/.*.tmp")),
}


def install_kill_hook(step: str, root: Path, version: str) -> None:
    """SIGKILL this process at the first durable operation that finds ``step`` on disk."""
    reached = STEPS[step]

    def hook(function: Callable[..., Any]) -> Callable[..., Any]:
        def hooked(*args: Any, **kwargs: Any) -> Any:
            if reached(root, version):
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)

        return hooked

    os.fsync = hook(os.fsync)
    os.rename = hook(os.rename)
    os.replace = hook(os.replace)
    Registry.stage_bundle = hook(Registry.stage_bundle)  # type: ignore[method-assign]


def _save(model: Forecaster, folder: Path, info: BundleInfo, probe: np.ndarray) -> None:
    save_bundle(model, folder, info, probe)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("registry", type=Path)
    parser.add_argument("version")
    parser.add_argument("--promote")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)

    registry = Registry(args.registry)
    base = registry.resolve("production")
    loaded = [load_bundle(registry.bundle_path(m)) for m in base.members]
    if args.ready and args.go:
        args.ready.write_text("ready")
        deadline = time.monotonic() + 120
        while not args.go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
    if step := os.environ.get("PUBLISH_KILL_WHEN"):
        install_kill_hook(step, args.registry, args.version)

    created_at = datetime.now(UTC).isoformat()
    staged = []
    try:
        for bundle in loaded:
            manifest = bundle.manifest
            info = BundleInfo(
                args.version, base.model_set, created_at, manifest.training, manifest.metrics
            )
            probe = np.asarray(json.loads((bundle.path / "probe.json").read_text())["input"])
            write = functools.partial(_save, bundle.model, info=info, probe=probe)
            staged.append(
                registry.stage_bundle(base.model_set, manifest.family, args.version, write)
            )

        def make_release(members: list[ReleaseMember], release_id: str) -> Release:
            return base.model_copy(
                update={"id": release_id, "members": members, "created_at": created_at}
            )

        release = registry.publish(staged, make_release, args.promote)
    except BaseException:
        registry.discard(staged)
        raise
    print(json.dumps({"release": release.id, "members": [m.path for m in release.members]}))


if __name__ == "__main__":
    main()

"""A real publish in its own process, for the crash and concurrency tests (not a test module).

    python publisher.py REGISTRY VERSION [--promote ALIAS] [--ready FILE --go FILE]

Loads the four bundles of REGISTRY's production release, then publishes them again as version
VERSION exactly as ``training.train`` publishes a run: ``save_bundle`` into staging for each
member, then ``Registry.publish`` (rename the bundles, write the release, move the alias).
Training itself is skipped: it does not touch the registry.

``PUBLISH_KILL_AT=<event>:<n>`` makes the process SIGKILL itself right before its n-th
``event``: ``stage`` (a ``Registry.stage_bundle`` call), ``fsync``, ``rename`` or ``replace``
(the ``os`` functions every durable step of a publish goes through). The same code and data
give the same sequence of events, so each kill point is deterministic.
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

EVENTS = ("stage", "fsync", "rename", "replace")


def install_kill_hook(spec: str) -> None:
    event, nth = spec.split(":")
    assert event in EVENTS, spec
    counts = dict.fromkeys(EVENTS, 0)

    def hook(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def hooked(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            if name == event and counts[name] == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)

        return hooked

    os.fsync = hook("fsync", os.fsync)
    os.rename = hook("rename", os.rename)
    os.replace = hook("replace", os.replace)
    Registry.stage_bundle = hook("stage", Registry.stage_bundle)  # type: ignore[method-assign]


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
    if spec := os.environ.get("PUBLISH_KILL_AT"):
        install_kill_hook(spec)

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

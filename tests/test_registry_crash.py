"""Real processes: a publish SIGKILLed at every durable step, and two publishes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_engine.bundle import load_bundle
from ai_engine.doctor import diagnose
from ai_engine.engine import Engine
from ai_engine.errors import RegistryError
from ai_engine.registry import Registry
from trained import tiny_registry

PUBLISHER = Path(__file__).with_name("publisher.py")
VERSION = "v20300101_000000"
FAMILIES = ("xgboost", "lightgbm", "nhits", "patchtst")


def publisher(registry: Registry, *args: str, kill_at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PUBLISH_KILL_WHEN", None)
    if kill_at:
        env["PUBLISH_KILL_WHEN"] = kill_at
    return subprocess.Popen(
        [sys.executable, str(PUBLISHER), str(registry.root), VERSION, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def every_listed_bundle_loads(registry: Registry) -> None:
    for folder in registry.bundle_dirs():
        load_bundle(folder)


# (step seen on disk when the publisher is killed (publisher.STEPS), staging leftovers (folders
#  and stale lock files), families committed but in no release, temp files left, a new release
#  written)
KILL_POINTS = [
    ("first-bundle-begun", 1, (), 0, False),  # inside the first bundle
    ("two-bundles-staged", 2, (), 0, False),  # two bundles staged, the third not begun
    ("four-bundles-staged", 4, (), 0, False),  # all staged, nothing renamed
    # two bundles renamed into bundles/, two still staged, the second's lock file not removed
    ("two-bundles-renamed", 3, FAMILIES[:2], 0, False),
    ("release-temp-written", 0, FAMILIES, 1, False),  # release in its temp file, not renamed
    ("alias-temp-written", 0, (), 1, True),  # release renamed; alias temp file not renamed
]


@pytest.mark.parametrize(
    ("kill_at", "staging", "unreleased", "temps", "released"),
    KILL_POINTS,
    ids=[k[0] for k in KILL_POINTS],
)
def test_a_publish_killed_at_any_point_leaves_production_serving(
    kill_at: str,
    staging: int,
    unreleased: tuple[str, ...],
    temps: int,
    released: bool,
    tmp_path: Path,
) -> None:
    registry = tiny_registry(tmp_path / "registry")
    before = registry.resolve("production").id
    process = publisher(registry, "--promote", "production", kill_at=kill_at)
    _out, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err

    assert registry.resolve("production").id == before
    engine = Engine.load(registry)
    assert engine.release.id == before and engine.healthy_count == 4
    every_listed_bundle_loads(registry)
    assert [r.id == before for r in registry.releases()] == [True] + [False] * released

    report = diagnose(registry.root)
    lines = report.lines()
    assert report.exit_code == 0, lines
    assert lines[-1].startswith(f"production -> {before}: 4/4 models healthy, quorum 3: can reach")
    staged = [x for x in lines if x.startswith("leftover .staging/")]
    assert len(staged) == staging, lines
    assert (
        len(
            [
                x
                for x in lines
                if x.startswith("leftover ") and x.endswith("removes it") and ".tmp:" in x
            ]
        )
        == temps
    ), lines
    assert [x.split()[2] for x in lines if x.startswith("unreleased bundle")] == [
        f"bundles/TEST-5m/{family}/{VERSION}:" for family in sorted(unreleased)
    ], lines
    assert all(" OK;" in x for x in lines if x.startswith("unreleased bundle"))
    if released:
        new = next(r for r in report.releases if r.release_id != before)
        assert new.healthy == 4 and not new.aliases

    removed = registry.gc(keep=1)
    assert len(removed.removed_bundles) == len(unreleased)
    after = diagnose(registry.root)
    assert after.exit_code == 0 and not after.leftovers and not after.unreleased, after.lines()
    assert not any(registry.staging_dir.iterdir())


def test_a_publish_that_is_not_killed_moves_production(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    before = registry.resolve("production").id
    process = publisher(registry, "--promote", "production")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    new = json.loads(out)["release"]
    assert registry.resolve("production").id == new != before
    assert registry.alias("production").history == [before]
    assert not registry.staging_leftovers() and not registry.unreleased_bundles()


def test_two_processes_publishing_at_once_stay_consistent(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    base = registry.resolve("production").id
    go = tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    processes = [
        publisher(registry, "--promote", "production", "--ready", str(r), "--go", str(go))
        for r in ready
    ]
    deadline = time.monotonic() + 240
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.write_text("go")
    results = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [e for _o, e in results]
    published = [json.loads(out)["release"] for out, _err in results]

    assert len(set(published)) == 2 and len(registry.releases()) == 3
    production = registry.alias("production")
    assert production.release in published
    assert production.history == [next(r for r in published if r != production.release), base]
    paths = [m for r in published for m in registry.release(r).members]
    assert len({m.path for m in paths}) == 8
    for family in FAMILIES:
        versions = sorted(m.version for m in paths if m.family == family)
        assert versions == [VERSION, f"{VERSION}_1"]
    for member in paths:
        assert load_bundle(registry.bundle_path(member)).manifest.version == member.version
    report = diagnose(registry.root)
    assert report.exit_code == 0 and not report.leftovers and not report.unreleased
    assert all(r.healthy == 4 for r in report.releases)


LOCK_HOLDER = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def _hold_writer_lock(root: Path) -> subprocess.Popen[str]:
    """Another process holding the registry's writer lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(root / ".lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_a_writer_gives_up_on_a_held_lock_after_its_timeout(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    root.mkdir()
    registry = Registry(root, lock_timeout_s=0.3)
    holder = _hold_writer_lock(root)
    try:
        started = time.monotonic()
        with pytest.raises(
            RegistryError,
            match=r"expected the writer lock within 0.3 s, found it still held by another writer",
        ):
            registry.gc(keep=0)
        assert time.monotonic() - started >= 0.3  # it waited before giving up
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert registry.gc(keep=0).removed_releases == []  # released: the next writer gets it
    killed = _hold_writer_lock(root)
    killed.kill()  # a writer that dies holding the lock loses it
    killed.wait(timeout=30)
    assert registry.gc(keep=0).kept_releases == []

"""Registry records (releases, aliases, staged bundles) and the atomic file helpers they use.

Split from ``registry.py``, which re-exports every name here.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict

from ai_engine.bundle import write_json
from ai_engine.errors import RegistryError

RELEASE_FORMAT_VERSION = 1
DEFAULT_ALIAS = "production"
ALIASES = ("production", "candidate")
STAGING = ".staging"
GATES = "gates"
STAGING_LOCK_SUFFIX = ".lock"
TEMP_SUFFIX = ".tmp"
IMPORTED_SET = "imported"
LOCK_TIMEOUT_S = 120.0


class ReleaseMember(BaseModel):
    """One pinned bundle of a release."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    family: str
    version: str
    path: str
    manifest_sha256: str
    plugin: str | None = None
    """The plugin (module or .py path) the member's family came from; None: built in."""
    symbol: str | None = None
    """The one symbol (``SYMBOL@TF`` in a release with ``series``) this member serves (trees
    fitted per symbol); None: every symbol."""


class Release(BaseModel):
    """A release: the unit that is promoted, served and rolled back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format_version: int = RELEASE_FORMAT_VERSION
    id: str
    created_at: str
    model_set: str
    symbol: str
    timeframe: str
    feature_fingerprint: str
    members: list[ReleaseMember]
    ensemble: dict[str, Any]
    metrics: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}
    """Out-of-fold evidence (evaluation/): combination weights, edge verdict, decision rule,
    conformal interval scales, input-distance gate. Empty for releases made before it."""
    symbols: list[str] = []
    """The symbols a multi-symbol release covers (ai_engine.multi); empty: a release of one
    symbol, ``symbol``, made by ``train``."""
    series: list[str] = []
    """A release of several timeframes: every (symbol, timeframe) it covers as ``SYMBOL@TF``
    (sorted); ``per_symbol`` and members' ``symbol`` are then keyed by these, ``timeframe``
    lists the timeframes (``1m,5m,30m``). Empty: ``symbols`` at ``timeframe``."""
    per_symbol: dict[str, Any] = {}
    """Per covered symbol (``SYMBOL@TF`` with ``series``): its own ``evaluation``,
    ``ensemble``, validation ``metrics``."""


class Alias(BaseModel):
    """A movable name for a release, with the releases it named before."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alias: str
    release: str
    history: list[str] = []
    updated_at: str


@dataclass(frozen=True)
class StagedBundle:
    """A bundle written into staging, waiting to be renamed to its final place."""

    staging_path: Path
    final_path: Path
    guard: FileLock | None = field(default=None, compare=False, repr=False)
    """Held while the staging folder is in use, so that ``gc`` leaves it alone."""

    def release_guard(self) -> None:
        """Release the staging lock and remove its file (idempotent)."""
        if self.guard is not None and self.guard.is_locked:
            self.guard.release()
        Path(f"{self.staging_path}{STAGING_LOCK_SUFFIX}").unlink(missing_ok=True)


@dataclass(frozen=True)
class GcReport:
    """What ``Registry.gc`` kept and removed (paths relative to the registry root)."""

    kept_releases: list[str]
    removed_releases: list[str]
    removed_bundles: list[str]
    removed_leftovers: list[str]
    removed_decisions: list[str] = field(default_factory=list)


def utc_stamp(now: datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS`` in UTC."""
    return (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M%S")


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename inside it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file and folder under ``path`` (bottom up)."""
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to a temp file beside ``path``, fsync, rename over ``path``, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write_json(temp, data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def safe_name(text: str) -> str:
    """A symbol or timeframe made safe for a folder name (``BTC/USDT`` -> ``BTC_USDT``)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".")
    if not cleaned:
        raise RegistryError(f"expected a symbol/timeframe usable as a folder name, found {text!r}")
    return cleaned


def lock_held(path: Path) -> bool:
    """True when another writer (any process, this one included) holds the lock file ``path``."""
    if not path.is_file():
        return False
    probe = FileLock(str(path), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False


def remove_records_of_gone(folder: Path, kept: set[str]) -> list[str]:
    """Delete ``folder/<release id>.json`` of every release not in ``kept``; their paths
    relative to the registry root (``folder``'s parent)."""
    gone = [p for p in sorted(folder.glob("*.json")) if p.stem not in kept]
    for path in gone:
        path.unlink()
    if gone:
        fsync_dir(folder)
    return [str(p.relative_to(folder.parent)) for p in gone]

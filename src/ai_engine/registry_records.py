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
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from ai_engine.bundle import write_json
from ai_engine.data import timeframe_delta
from ai_engine.errors import DataValidationError, RegistryError
from ai_engine.release_format import RELEASE_FORMAT_VERSION, Series, upgraded

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
    """The series (``SYMBOL`` or ``SYMBOL@TF``) whose own bundle this is (trees fitted per
    symbol); None: shared. Informational: which series a member answers is ``Series.members``."""


class Release(BaseModel):
    """A release: the unit that is promoted, served and rolled back (format v2).

    ``series`` lists every (symbol, timeframe) it answers with that series' members, evidence,
    ensemble settings and metrics; ``evaluation``, ``ensemble`` and ``metrics`` beside them are
    the release-wide (pooled) ones. A v1 record (a file written before format 2, or keyword
    arguments in the v1 shape) is upgraded on validation (``release_format.upgrade_v1``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    format_version: int = RELEASE_FORMAT_VERSION
    id: str
    created_at: str
    model_set: str
    feature_fingerprint: str
    members: list[ReleaseMember]
    series: list[Series]
    any_symbol: bool = False
    """True for a release of one symbol made by ``train``: its one series answers any symbol of
    its timeframe."""
    ensemble: dict[str, Any]
    metrics: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}
    """Out-of-fold evidence (evaluation/): combination weights, edge verdict, decision rule,
    conformal interval scales, input-distance gate. Empty for releases made before it."""

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        return upgraded(data)

    @model_validator(mode="after")
    def _check(self) -> Release:
        if not self.series:
            raise PydanticCustomError("release_series", "expected at least one series, found none")
        if self.any_symbol and len(self.series) != 1:
            raise PydanticCustomError(
                "release_series",
                "any_symbol expects exactly one series, found {n}",
                {"n": len(self.series)},
            )
        for one in self.series:
            if any(not 0 <= i < len(self.members) for i in one.members):
                raise PydanticCustomError(
                    "release_series",
                    "series {key}: expected member indices below {n}, found {found}",
                    {"key": one.key, "n": len(self.members), "found": list(one.members)},
                )
        return self

    @property
    def timeframes(self) -> list[str]:
        """The timeframes of its series, each once, shortest first."""
        return sorted({s.timeframe for s in self.series}, key=_timeframe_order)

    @property
    def timeframe(self) -> str:
        """Its one timeframe, or the list (``5m,15m``) of a release of several."""
        return ",".join(self.timeframes)

    @property
    def symbols(self) -> list[str]:
        """The symbols it declares, sorted; empty for an ``any_symbol`` release."""
        return [] if self.any_symbol else sorted({s.symbol for s in self.series})

    @property
    def symbol(self) -> str:
        """Its one symbol, or the declared symbols joined by commas."""
        return self.series[0].symbol if self.any_symbol else ",".join(self.symbols)

    @property
    def series_keys(self) -> list[str]:
        """Every series as ``SYMBOL@TF``, in the release's order."""
        return [s.key for s in self.series]

    @property
    def listed_series(self) -> list[str]:
        """What v1 called ``series`` (kept in /v1/models and ``models list --json``):
        ``series_keys`` for a release of several timeframes, else empty."""
        return self.series_keys if len(self.timeframes) > 1 else []

    def by_key(self) -> dict[str, Series]:
        """Its series by ``SYMBOL@TF``."""
        return {s.key: s for s in self.series}


def _timeframe_order(timeframe: str) -> tuple[float, str]:
    """Shortest first; a timeframe of an unknown spelling after the known ones."""
    try:
        return timeframe_delta(timeframe).total_seconds(), timeframe
    except DataValidationError:
        return float("inf"), timeframe


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

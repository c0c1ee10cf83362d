"""The model registry: bundles, releases and aliases on a filesystem, changed only atomically.

Layout under the registry root::

    bundles/<model_set>/<family>/<version>/   one bundle each (see bundle.py)
    releases/<release_id>.json                 four pinned bundles + ensemble settings
    aliases/<alias>.json                       {"release": id, "history": [older ids, newest first]}
    gates/<release_id>.json                    the retraining gate's decision on a candidate
    .staging/<id>/ + <id>.lock                 a bundle being written (its writer holds the lock);
                                               never listed or served; ``gc`` removes leftovers
    .lock                                      file lock serialising writers across processes

Bundles under ``bundles/imported/`` come from ``ai-engine import-legacy``: they belong to no
release and ``gc`` keeps them.

Every write goes to a temporary file or folder on the same filesystem, is fsynced, then
renamed into place, so a crash leaves the old state or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import ValidationError

from ai_engine.bundle import MANIFEST, sha256_file
from ai_engine.errors import RegistryError
from ai_engine.registry_records import (
    ALIASES,
    DEFAULT_ALIAS,
    GATES,
    IMPORTED_SET,
    LOCK_TIMEOUT_S,
    RELEASE_FORMAT_VERSION,
    STAGING,
    STAGING_LOCK_SUFFIX,
    TEMP_SUFFIX,
    Alias,
    GcReport,
    Release,
    ReleaseMember,
    StagedBundle,
    atomic_write_json,
    fsync_dir,
    fsync_tree,
    lock_held,
    remove_records_of_gone,
    safe_name,
    utc_stamp,
)

__all__ = [
    "ALIASES",
    "DEFAULT_ALIAS",
    "GATES",
    "IMPORTED_SET",
    "LOCK_TIMEOUT_S",
    "RELEASE_FORMAT_VERSION",
    "Alias",
    "GcReport",
    "Registry",
    "Release",
    "ReleaseMember",
    "StagedBundle",
    "atomic_write_json",
    "fsync_dir",
    "fsync_tree",
    "safe_name",
    "utc_stamp",
]


class Registry:
    """Bundles, releases and aliases under one root folder."""

    def __init__(self, root: str | Path, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        """``lock_timeout_s``: how long a writer waits for another writer's lock."""
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(f"registry {self.root} is a file; expected a folder")

    # ---- paths -------------------------------------------------------------------------
    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def aliases_dir(self) -> Path:
        return self.root / "aliases"

    @property
    def staging_dir(self) -> Path:
        return self.root / STAGING

    @property
    def gates_dir(self) -> Path:
        return self.root / GATES

    def bundle_path(self, member: ReleaseMember) -> Path:
        return self.root / member.path

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise writers across processes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise RegistryError(f"registry {self.root} cannot be created: {exc}") from exc
        try:
            with FileLock(str(self.root / ".lock"), timeout=self.lock_timeout_s):
                yield
        except Timeout as exc:
            raise RegistryError(
                f"registry {self.root}: expected the writer lock within {self.lock_timeout_s:g} s, "
                "found it still held by another writer"
            ) from exc

    # ---- reading -----------------------------------------------------------------------
    def bundle_dirs(self) -> list[Path]:
        """Complete bundles (manifest present), sorted; staging folders are never listed."""
        if not self.bundles_dir.is_dir():
            return []
        return sorted(p.parent for p in self.bundles_dir.glob(f"*/*/*/{MANIFEST}"))

    def releases(self) -> list[Release]:
        """Every release, oldest first."""
        if not self.releases_dir.is_dir():
            return []
        found = [self.release(p.stem) for p in self.releases_dir.glob("*.json")]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def release(self, release_id: str) -> Release:
        path = self.releases_dir / f"{release_id}.json"
        data = self._read_json(path, f"release {release_id!r}")
        try:
            return Release.model_validate(data)
        except ValidationError as exc:
            raise RegistryError(f"{path}: not a valid release: {exc.errors()[0]['msg']}") from exc

    def aliases(self) -> dict[str, Alias]:
        if not self.aliases_dir.is_dir():
            return {}
        return {p.stem: self.alias(p.stem) for p in sorted(self.aliases_dir.glob("*.json"))}

    def alias(self, name: str) -> Alias:
        path = self.aliases_dir / f"{name}.json"
        data = self._read_json(path, f"alias {name!r}")
        try:
            return Alias.model_validate(data)
        except ValidationError as exc:
            raise RegistryError(f"{path}: not a valid alias: {exc.errors()[0]['msg']}") from exc

    def resolve(self, reference: str = DEFAULT_ALIAS) -> Release:
        """A release by alias name or id."""
        if (self.aliases_dir / f"{reference}.json").is_file():
            return self.release(self.alias(reference).release)
        if (self.releases_dir / f"{reference}.json").is_file():
            return self.release(reference)
        if not self.root.is_dir():
            raise RegistryError(self.missing_message())
        known = sorted(self.aliases()) + [r.id for r in self.releases()]
        ids = [r.id for r in self.releases()][-1:] if reference == DEFAULT_ALIAS else []
        run = f"ai-engine models promote {ids[0]} --registry {self._shown()}" if ids else ""
        hint = f"; promote one with `{run}` (or train with --promote)" if ids else ""
        raise RegistryError(
            f"registry folder {self._shown()}: no alias or release named {reference!r}; "
            f"found {known or 'none'}{hint}"
        )

    def _shown(self) -> str:
        """The root as a user would type it: a relative one with ./ (never "registry registry")."""
        shown = str(self.root)
        if not self.root.is_absolute() and not shown.startswith("."):
            shown = f".{os.sep}{shown}"
        return shown

    def missing_message(self) -> str:
        """The message for a missing root: "registry folder ./registry does not exist"."""
        return (
            f"registry folder {self._shown()} does not exist (give --registry or "
            f"AI_ENGINE_REGISTRY, or train a release into it first)"
        )

    def _read_json(self, path: Path, what: str) -> Any:
        if not self.root.is_dir():
            raise RegistryError(self.missing_message())
        if not path.is_file():
            raise RegistryError(f"registry {self.root}: {what} not found ({path} missing)")
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{path}: not valid JSON: {exc}") from exc

    # ---- writing -----------------------------------------------------------------------
    def stage_bundle(
        self, model_set: str, family: str, version: str, write: Callable[[Path], Any]
    ) -> StagedBundle:
        """Write a bundle into staging with ``write(folder)``; fsync it; rename later.

        The staging folder's lock (``<id>.lock``) is held until ``publish`` or ``discard``; a
        writer that dies, even by SIGKILL, loses it, and its folder becomes a leftover that
        ``gc`` removes. The lock is taken before the folder exists.
        """
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        staging = self.staging_dir / uuid.uuid4().hex
        guard = FileLock(f"{staging}{STAGING_LOCK_SUFFIX}", timeout=0)
        guard.acquire()
        staged = StagedBundle(
            staging, self.bundles_dir / safe_name(model_set) / family / version, guard
        )
        try:
            staging.mkdir()
            write(staging)
            fsync_tree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            staged.release_guard()
            raise
        return staged

    def publish(
        self,
        staged: list[StagedBundle],
        make_release: Callable[[list[ReleaseMember], str], Release],
        promote_to: str | None = None,
    ) -> Release:
        """Rename staged bundles into place, write the release, optionally move an alias.

        Runs under the lock. ``make_release(members, release_id)`` builds the release record
        once the final bundle paths are known. A crash before the release file is renamed into
        place leaves complete but unreleased bundles, which ``gc`` removes.
        """
        with self.lock():
            members = self._commit_all(staged)
            release = make_release(members, self._new_release_id())
            atomic_write_json(self.releases_dir / f"{release.id}.json", release.model_dump())
            if promote_to:
                self._set_alias(promote_to, release.id)
            return release

    def add_bundles(self, staged: list[StagedBundle]) -> list[ReleaseMember]:
        """Rename staged bundles into place without a release (imported bundles)."""
        with self.lock():
            return self._commit_all(staged)

    def discard(self, staged: list[StagedBundle]) -> None:
        """Remove staged folders of a run that failed."""
        for item in staged:
            shutil.rmtree(item.staging_path, ignore_errors=True)
            item.release_guard()

    def _commit_all(self, staged: list[StagedBundle]) -> list[ReleaseMember]:
        members = []
        for item in staged:
            members.append(self._commit_bundle(item))
            item.release_guard()
        return members

    def promote(self, release_id: str, alias: str = DEFAULT_ALIAS) -> Alias:
        """Point ``alias`` at a release; the previous target goes onto the alias's history."""
        with self.lock():
            self.release(release_id)
            return self._set_alias(alias, release_id)

    def rollback(self, alias: str = DEFAULT_ALIAS) -> Alias:
        """Point ``alias`` back at the release it pointed to before the last promotion."""
        with self.lock():
            current = self.alias(alias)
            if not current.history:
                raise RegistryError(
                    f"alias {alias!r} has no earlier release to roll back to "
                    f"(it points at {current.release})"
                )
            previous, *older = current.history
            self.release(previous)
            updated = Alias(
                alias=alias,
                release=previous,
                history=older,
                updated_at=datetime.now(UTC).isoformat(),
            )
            atomic_write_json(self.aliases_dir / f"{alias}.json", updated.model_dump())
            return updated

    def _set_alias(self, alias: str, release_id: str) -> Alias:
        history: list[str] = []
        if (self.aliases_dir / f"{alias}.json").is_file():
            current = self.alias(alias)
            if current.release == release_id:
                return current
            history = [current.release, *current.history]
        updated = Alias(
            alias=alias,
            release=release_id,
            history=history,
            updated_at=datetime.now(UTC).isoformat(),
        )
        atomic_write_json(self.aliases_dir / f"{alias}.json", updated.model_dump())
        return updated

    def _commit_bundle(self, staged: StagedBundle) -> ReleaseMember:
        """Rename a staged bundle into place; a taken version gets a ``_N`` suffix."""
        final, suffix = staged.final_path, 1
        while final.exists():
            final = staged.final_path.with_name(f"{staged.final_path.name}_{suffix}")
            suffix += 1
        if final != staged.final_path:
            manifest = json.loads((staged.staging_path / MANIFEST).read_text())
            atomic_write_json(staged.staging_path / MANIFEST, {**manifest, "version": final.name})
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged.staging_path, final)
        fsync_dir(final.parent)
        family = json.loads((final / MANIFEST).read_text())["family"]
        return ReleaseMember(
            family=family,
            version=final.name,
            path=str(final.relative_to(self.root)),
            manifest_sha256=sha256_file(final / MANIFEST),
        )

    def _new_release_id(self) -> str:
        base = f"r{utc_stamp()}"
        candidate, suffix = base, 1
        while (self.releases_dir / f"{candidate}.json").exists():
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        return candidate

    # ---- maintenance -------------------------------------------------------------------
    def staging_leftovers(self) -> list[Path]:
        """Entries of ``.staging`` that no live writer holds: folders left by an interrupted
        publish or gc, and stale lock files. Never listed as bundles, never served."""
        if not self.staging_dir.is_dir():
            return []
        leftovers = []
        for entry in sorted(self.staging_dir.iterdir()):
            if entry.name.endswith(STAGING_LOCK_SUFFIX):
                owner = entry.with_name(entry.name.removesuffix(STAGING_LOCK_SUFFIX))
                if not owner.exists() and not lock_held(entry):
                    leftovers.append(entry)
            elif not lock_held(Path(f"{entry}{STAGING_LOCK_SUFFIX}")):
                leftovers.append(entry)
        return leftovers

    def temp_leftovers(self) -> list[Path]:
        """Temporary files of interrupted atomic writes in releases/, aliases/ and gates/."""
        return sorted(
            path
            for folder in (self.releases_dir, self.aliases_dir, self.gates_dir)
            if folder.is_dir()
            for path in folder.glob(f".*{TEMP_SUFFIX}")
        )

    def is_imported(self, bundle: Path) -> bool:
        """True for bundles under ``bundles/imported/`` (legacy imports, never in a release)."""
        return bundle.relative_to(self.bundles_dir).parts[0] == IMPORTED_SET

    def imported_bundles(self) -> list[Path]:
        """Complete bundles written by ``import-legacy``."""
        return [p for p in self.bundle_dirs() if self.is_imported(p)]

    def unreleased_bundles(self, releases: list[Release] | None = None) -> list[Path]:
        """Complete bundles that no release pins (left by an interrupted publish), imported
        bundles excepted."""
        used = {
            m.path for r in (self.releases() if releases is None else releases) for m in r.members
        }
        return [
            p
            for p in self.bundle_dirs()
            if str(p.relative_to(self.root)) not in used and not self.is_imported(p)
        ]

    def gc(self, keep: int) -> GcReport:
        """Delete what nothing uses, under the writer lock.

        Keeps the ``keep`` newest releases and every release an alias names, its history
        included (so ``rollback`` keeps working); deletes the other release files, then every
        bundle folder that no kept release pins (imported bundles excepted), staging leftovers
        and stale temporary files. Bundles are first renamed into ``.staging`` and deleted
        there, so an interrupted gc never leaves a half-deleted bundle in ``bundles/``. Refuses
        to run when a release or alias file cannot be read: it could not know what is in use.
        """
        if keep < 0:
            raise RegistryError(f"gc --keep expects a number >= 0, found {keep}")
        if not self.root.is_dir():
            raise RegistryError(self.missing_message())
        with self.lock():
            releases = self.releases()
            aliases = self.aliases().values()
            protected = {a.release for a in aliases} | {h for a in aliases for h in a.history}
            newest = {r.id for r in releases[len(releases) - keep :]} if keep else set()
            kept = [r for r in releases if r.id in protected | newest]
            removed_releases = [r.id for r in releases if r not in kept]
            for release_id in removed_releases:
                (self.releases_dir / f"{release_id}.json").unlink()
            if removed_releases:
                fsync_dir(self.releases_dir)
            removed_bundles = self._trash_unused_bundles({m.path for r in kept for m in r.members})
            removed_decisions = remove_records_of_gone(self.gates_dir, {r.id for r in kept})
            removed_leftovers = []
            for entry in [*self.staging_leftovers(), *self.temp_leftovers()]:
                if not entry.name.startswith("trash-"):
                    removed_leftovers.append(str(entry.relative_to(self.root)))
                if entry.is_dir():
                    shutil.rmtree(entry)
                    Path(f"{entry}{STAGING_LOCK_SUFFIX}").unlink(missing_ok=True)
                else:
                    entry.unlink(missing_ok=True)
            self._remove_empty_bundle_folders()
        kept_ids = [r.id for r in kept]
        removed = (removed_releases, removed_bundles, removed_leftovers, removed_decisions)
        return GcReport(kept_ids, *removed)

    def _trash_unused_bundles(self, used: set[str]) -> list[str]:
        """Rename unused bundle folders (complete or not) into ``.staging/trash-*``."""
        removed: list[str] = []
        if not self.bundles_dir.is_dir():
            return removed
        for folder in sorted(self.bundles_dir.glob("*/*/*")):
            relative = str(folder.relative_to(self.root))
            if not folder.is_dir() or relative in used or self.is_imported(folder):
                continue
            self.staging_dir.mkdir(parents=True, exist_ok=True)
            os.rename(folder, self.staging_dir / f"trash-{uuid.uuid4().hex}")
            fsync_dir(folder.parent)
            removed.append(relative)
        return removed

    def _remove_empty_bundle_folders(self) -> None:
        if not self.bundles_dir.is_dir():
            return
        for level in ("*/*", "*"):
            for folder in self.bundles_dir.glob(level):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()

"""``ai-engine models upgrade``: rewrite release files of an older format as format v2.

Every release is read in format v2 already (``release_format.upgrade_v1`` runs in memory);
this rewrites the files, under the registry's writer lock, each atomically (temp file, fsync,
rename, fsync the folder: ``atomic_write_json``), so a crash leaves each file old or new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ai_engine.errors import RegistryError
from ai_engine.registry import Registry, Release, atomic_write_json
from ai_engine.release_format import RELEASE_FORMAT_VERSION


@dataclass(frozen=True)
class UpgradeReport:
    """Release ids rewritten, and those already in the current format."""

    upgraded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)


def file_format(registry: Registry, release_id: str) -> int:
    """The format version a release file is written in (1 when it names none)."""
    path = registry.releases_dir / f"{release_id}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot be read: {exc}") from exc
    version = data.get("format_version", 1) if isinstance(data, dict) else 1
    return version if isinstance(version, int) else 1


def upgrade_releases(registry: Registry, references: list[str] | None = None) -> UpgradeReport:
    """Rewrite the named releases (ids or aliases; None: every release) as format v2."""
    report = UpgradeReport()
    with registry.lock():
        if references is None:
            ids = [r.id for r in registry.releases()]
        else:
            ids = [registry.resolve(ref).id for ref in references]
        for release_id in dict.fromkeys(ids):
            if file_format(registry, release_id) >= RELEASE_FORMAT_VERSION:
                report.current.append(release_id)
                continue
            release: Release = registry.release(release_id)
            path = registry.releases_dir / f"{release_id}.json"
            atomic_write_json(path, release.model_dump())
            report.upgraded.append(release_id)
    return report

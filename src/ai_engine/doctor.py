"""Registry health: verify releases member by member, and the ``doctor`` verdict.

``verify_release`` loads every member of a release through all bundle checks (as
``Engine.load`` does) and says, per model, OK or the one-line reason. ``diagnose`` does that for
every release, lists bundles that no release pins, imported bundles and crash leftovers, and
decides the exit status an operator acts on:

- ``0`` the ``production`` release can reach consensus (at least the quorum of members healthy);
- ``1`` it cannot (too few healthy members, or no ``production`` alias yet);
- ``2`` the registry itself is unusable (missing folder, unreadable alias or release files,
  ``production`` naming a release that does not exist).

Problems elsewhere (another release, a leftover) are reported but do not change the status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_engine.engine import Engine, Member, load_member
from ai_engine.errors import AIEngineError, ConsensusError, RegistryError
from ai_engine.features import CURRENT_SPEC, FeatureSpec
from ai_engine.registry import DEFAULT_ALIAS, Alias, Registry, Release

EXIT_OK = 0
EXIT_NO_CONSENSUS = 1
EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class ModelCheck:
    """One model's verdict: ``reason`` is None when every load check passed."""

    family: str
    version: str
    path: str
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        verdict = "OK  " if self.ok else "FAIL"
        detail = self.path if self.ok else self.reason
        return f"  {verdict}  {self.family:<15} {self.version:<18} {detail}"


@dataclass(frozen=True)
class ReleaseCheck:
    """Every member of one release checked, and whether the quorum is reachable."""

    release_id: str
    aliases: tuple[str, ...]
    models: list[ModelCheck]
    quorum: int
    consensus_reason: str | None
    """None when the release can reach consensus, else why not."""
    edge: dict[str, Any] = field(default_factory=dict)
    """The release's out-of-fold edge verdict (``release.evaluation["edge"]``)."""

    @property
    def healthy(self) -> int:
        return sum(m.ok for m in self.models)

    @property
    def can_reach_consensus(self) -> bool:
        return self.consensus_reason is None

    def header(self) -> str:
        named = f" [{', '.join(self.aliases)}]" if self.aliases else ""
        verdict = "can reach consensus" if self.can_reach_consensus else "CANNOT reach consensus"
        return (
            f"release {self.release_id}{named}: {self.healthy}/{len(self.models)} models "
            f"healthy, quorum {self.quorum}: {verdict}"
        )

    def edge_line(self) -> str:
        """The verdict; without an edge a warning (the release serves, and always HOLDs)."""
        from ai_engine.evaluation.evidence import edge_line

        warning = "" if self.edge.get("enabled") else "warning: signals always HOLD: "
        return f"  {warning}{edge_line(self.edge)}"

    def lines(self) -> list[str]:
        return [self.header(), self.edge_line(), *(m.line() for m in self.models)]


@dataclass
class DoctorReport:
    """Everything ``ai-engine doctor`` prints, and its exit status."""

    registry: Path
    exit_code: int
    verdict: str
    releases: list[ReleaseCheck] = field(default_factory=list)
    broken_records: list[str] = field(default_factory=list)
    unreleased: list[ModelCheck] = field(default_factory=list)
    imported: list[ModelCheck] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"registry {self.registry}"]
        out += self.broken_records
        for release in self.releases:
            out += release.lines()
        for check in self.unreleased:
            state = "OK" if check.ok else check.reason
            out.append(
                f"unreleased bundle {check.path}: {state}; in no release (left by an "
                f"interrupted publish, never served); `ai-engine models gc` removes it"
            )
        for check in self.imported:
            out.append(
                f"imported bundle {check.path} ({check.family}): "
                f"{'OK' if check.ok else check.reason}"
            )
        for leftover in self.leftovers:
            out.append(
                f"leftover {leftover}: from an interrupted write, never listed or served;"
                f" `ai-engine models gc` removes it"
            )
        out.append(self.verdict)
        return out


def check_member(registry: Registry, member: Member, path: Path) -> ModelCheck:
    """A loaded member as a ModelCheck."""
    return ModelCheck(
        member.family, member.version, str(path.relative_to(registry.root)), member.reason
    )


def verify_release(
    registry: Registry,
    release: Release,
    aliases: tuple[str, ...] = (),
    spec: FeatureSpec = CURRENT_SPEC,
) -> ReleaseCheck:
    """Load every member of ``release`` through all checks; decide whether it reaches quorum."""
    members = [load_member(registry, m, spec) for m in release.members]
    checks = [
        check_member(registry, loaded, registry.bundle_path(pinned))
        for loaded, pinned in zip(members, release.members, strict=True)
    ]
    try:
        engine = Engine(release, members, spec)
        quorum = engine.settings.min_consensus
        engine.check_consensus()
        reason = None
    except ConsensusError as exc:
        reason = str(exc)
    except AIEngineError as exc:  # ensemble settings that do not parse
        quorum, reason = 0, f"{type(exc).__name__}: {exc}"
    edge = release.evaluation.get("edge", {})
    return ReleaseCheck(release.id, aliases, checks, quorum, reason, edge)


def verify(
    registry: str | Path | Registry, reference: str | None = None, spec: FeatureSpec = CURRENT_SPEC
) -> list[ReleaseCheck]:
    """Check one release (by id or alias) or, without ``reference``, every release."""
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    named = _alias_names(registry)
    releases = [registry.resolve(reference)] if reference else registry.releases()
    if reference is None and not releases:
        raise RegistryError(f"registry {registry.root}: no releases to verify")
    return [verify_release(registry, r, named.get(r.id, ()), spec) for r in releases]


def diagnose(root: str | Path, spec: FeatureSpec = CURRENT_SPEC) -> DoctorReport:
    """Check every release and bundle of the registry at ``root``; never raises engine errors."""
    registry = Registry(root) if not Path(root).is_file() else None
    if registry is None or not registry.root.is_dir():
        what = "is a file" if registry is None else "does not exist"
        return DoctorReport(
            Path(root),
            EXIT_UNUSABLE,
            f"registry {root} {what}: expected a registry folder (exit 2)",
        )
    report = DoctorReport(registry.root, EXIT_OK, "")
    try:
        aliases = registry.aliases()
    except (RegistryError, OSError) as exc:
        report.exit_code = EXIT_UNUSABLE
        report.verdict = f"alias files unreadable: {exc} (exit 2)"
        return report
    named = _alias_names(registry, aliases)
    releases = _readable_releases(registry, report)
    for release in releases:
        report.releases.append(verify_release(registry, release, named.get(release.id, ()), spec))
    _check_loose_bundles(registry, releases, report, spec)
    report.leftovers = [
        str(p.relative_to(registry.root))
        for p in [*registry.staging_leftovers(), *registry.temp_leftovers()]
    ]
    report.exit_code, report.verdict = _production_verdict(registry, aliases, report)
    return report


def _alias_names(
    registry: Registry, aliases: dict[str, Alias] | None = None
) -> dict[str, tuple[str, ...]]:
    """release id -> the aliases naming it now."""
    named: dict[str, tuple[str, ...]] = {}
    for name, alias in (aliases if aliases is not None else registry.aliases()).items():
        named[alias.release] = (*named.get(alias.release, ()), name)
    return named


def _readable_releases(registry: Registry, report: DoctorReport) -> list[Release]:
    """Every release file that parses; the others are reported as broken records."""
    releases = []
    folder = registry.releases_dir
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            releases.append(registry.release(path.stem))
        except (RegistryError, OSError) as exc:
            report.broken_records.append(f"release {path.stem}: unreadable: {exc}")
    return sorted(releases, key=lambda r: (r.created_at, r.id))


def _check_loose_bundles(
    registry: Registry, releases: list[Release], report: DoctorReport, spec: FeatureSpec
) -> None:
    """Bundles in no release: leftovers of an interrupted publish, and imported bundles."""
    from ai_engine.bundle import load_bundle

    for path in registry.unreleased_bundles(releases):
        report.unreleased.append(_check_folder(registry, path, lambda p: load_bundle(p, spec)))
    if registry.imported_bundles():
        from ai_engine.legacy_import import load_imported

        for path in registry.imported_bundles():
            report.imported.append(_check_folder(registry, path, load_imported))


def _check_folder(registry: Registry, path: Path, load: Callable[[Path], Any]) -> ModelCheck:
    family, version = path.parent.name, path.name
    try:
        load(path)
        reason = None
    except (AIEngineError, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    return ModelCheck(family, version, str(path.relative_to(registry.root)), reason)


def _production_verdict(
    registry: Registry, aliases: dict[str, Alias], report: DoctorReport
) -> tuple[int, str]:
    if DEFAULT_ALIAS not in aliases:
        return EXIT_NO_CONSENSUS, (
            f"{DEFAULT_ALIAS}: no such alias in {registry.root}; promote a "
            f"release (`ai-engine models promote RELEASE`) (exit 1)"
        )
    target = aliases[DEFAULT_ALIAS].release
    check = next((r for r in report.releases if r.release_id == target), None)
    if check is None:
        return EXIT_UNUSABLE, (
            f"{DEFAULT_ALIAS} -> {target}: release file "
            f"{registry.releases_dir / (target + '.json')} missing or unreadable"
            f" (exit 2)"
        )
    if not check.can_reach_consensus:
        return EXIT_NO_CONSENSUS, (
            f"{DEFAULT_ALIAS} -> {target}: cannot reach consensus: "
            f"{check.consensus_reason} (exit 1)"
        )
    return EXIT_OK, (
        f"{DEFAULT_ALIAS} -> {target}: {check.healthy}/{len(check.models)} models "
        f"healthy, quorum {check.quorum}: can reach consensus (exit 0)"
    )

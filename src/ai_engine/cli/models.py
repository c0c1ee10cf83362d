"""The ``models`` sub-app: releases, aliases, bundles and families in the registry."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ai_engine.cli import common
from ai_engine.cli.common import DEFAULT_REGISTRY, PluginOption, RegistryOption, echo, models_app
from ai_engine.cli.multi import covers_line, gate_lines, symbol_lines

if TYPE_CHECKING:
    from ai_engine.registry import Alias, Release


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@models_app.command("list")
def models_list(registry: RegistryOption = DEFAULT_REGISTRY, as_json: JsonFlag = False) -> None:
    """Releases, aliases and bundles (ids are never cut: copy them into `models promote`)."""
    from ai_engine.errors import RegistryError
    from ai_engine.registry import Registry

    reg = Registry(registry)
    if not reg.root.is_dir():  # a typo lists nothing: say so, as `signal` does
        raise RegistryError(reg.missing_message())
    aliases = reg.aliases()
    records = reg.releases()
    bundle_dirs = [str(path.relative_to(reg.root)) for path in reg.bundle_dirs()]
    if as_json:
        listing = {
            "registry": str(reg.root),
            "aliases": {name: a.release for name, a in aliases.items()},
            "releases": [_release_row(r, aliases) for r in records],
            "bundles": bundle_dirs,
        }
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    pointed = {a.release: name for name, a in aliases.items()}
    releases = Table(title=f"releases in {reg.root}")
    widest = max((len(r.id) for r in records), default=7)
    releases.add_column("release", no_wrap=True, min_width=widest)  # copyable, never "r2026…"
    for column in ("alias", "model set", "covers", "created", "members", "ensemble MAE"):
        releases.add_column(column)
    for r in records:
        mae = r.metrics.get("ensemble", {}).get("mae")
        releases.add_row(
            r.id,
            pointed.get(r.id, ""),
            r.model_set,
            covers_line(r),
            r.created_at[:19],
            ", ".join(f"{m.family}@{m.version}" for m in r.members),
            "-" if mae is None else f"{mae:.6f}",
        )
    common.out.print(releases)
    bundles = Table(title="bundles")
    bundles.add_column("bundle", no_wrap=True, min_width=max(map(len, bundle_dirs), default=6))
    for path in bundle_dirs:
        bundles.add_row(path)
    common.out.print(bundles)


def _release_row(release: Release, aliases: dict[str, Alias]) -> dict[str, Any]:
    mae = release.metrics.get("ensemble", {}).get("mae")
    return {
        "id": release.id,
        "aliases": sorted(name for name, a in aliases.items() if a.release == release.id),
        "model_set": release.model_set,
        "symbol": release.symbol,
        "timeframe": release.timeframe,
        "symbols": release.symbols,  # multi-symbol coverage; empty: `symbol` (any symbol)
        "series": release.listed_series,  # several timeframes: SYMBOL@TF; else empty
        "created_at": release.created_at,
        "members": [{"family": m.family, "version": m.version} for m in release.members],
        "ensemble_mae": mae,
    }


@models_app.command("show")
def models_show(
    release_id: Annotated[str, typer.Argument(help="Release id or alias.")],
    registry: RegistryOption = DEFAULT_REGISTRY,
    as_json: JsonFlag = False,
) -> None:
    """One release: a summary, or with --json the whole release record."""
    from ai_engine.evaluation.evidence import edge_line
    from ai_engine.registry import Registry

    reg = Registry(registry)
    release = reg.resolve(release_id)
    if as_json:
        sys.stdout.write(json.dumps(release.model_dump(), indent=2) + "\n")
        return
    row = _release_row(release, reg.aliases())
    mae = row["ensemble_mae"]
    echo(
        [
            f"release      {release.id}",
            f"aliases      {', '.join(row['aliases']) or '-'}",
            f"candles      {release.symbol} {release.timeframe} (model set {release.model_set})",
            f"created      {release.created_at}",
            f"ensemble MAE {'-' if mae is None else f'{mae:.6f}'}",
            *(f"member       {m.family}@{m.version}  {m.path}" for m in release.members),
            edge_line(release.evaluation.get("edge", {})),
            *symbol_lines(release),
            *gate_lines(reg, release.id),
            "(--json prints the whole record)",
        ]
    )


@models_app.command("promote")
def models_promote(
    release_id: Annotated[str, typer.Argument(help="Release id.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "production",
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Point an alias at a release (the previous target is kept for rollback)."""
    from ai_engine.registry import Registry

    updated = Registry(registry).promote(release_id, alias)
    common.out.print(f"{alias} -> {updated.release}")


@models_app.command("rollback")
def models_rollback(
    alias: Annotated[str, typer.Option(help="Alias to roll back.")] = "production",
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Point an alias back at its previous release."""
    from ai_engine.registry import Registry

    updated = Registry(registry).rollback(alias)
    common.out.print(f"{alias} -> {updated.release}")


@models_app.command("verify")
def models_verify(
    release_id: Annotated[
        str | None, typer.Argument(help="Release id or alias (default: every release).")
    ] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Load every model of a release through all bundle checks; exit 1 if any fails."""
    from ai_engine.doctor import verify

    checks = verify(registry, release_id)
    for check in checks:
        echo(check.lines())
    models = [m for c in checks for m in c.models]
    failed = sum(not m.ok for m in models)
    typer.echo(f"{len(models) - failed} of {len(models)} models OK in {len(checks)} release(s)")
    if failed:
        raise typer.Exit(1)


@models_app.command("gc")
def models_gc(
    keep: Annotated[int, typer.Option("--keep", min=0, help="Newest releases to keep.")] = 5,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Delete releases beyond the newest N (never one an alias names), unused bundles, leftovers."""
    from ai_engine.registry import Registry

    report = Registry(registry).gc(keep)
    echo(
        [f"removed release {r}" for r in report.removed_releases]
        + [f"removed bundle {b}" for b in report.removed_bundles]
        + [f"removed leftover {x}" for x in report.removed_leftovers]
        + [f"removed gate decision {d}" for d in report.removed_decisions]
        + [f"kept {len(report.kept_releases)} release(s): {', '.join(report.kept_releases)}"]
    )


@models_app.command("upgrade")
def models_upgrade(
    release_id: Annotated[str | None, typer.Argument(help="Release id or alias.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Upgrade every release.")] = False,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Rewrite release files of an older format as the current one (each atomically)."""
    from ai_engine.registry import Registry
    from ai_engine.registry_upgrade import upgrade_releases

    if every == (release_id is not None):
        common.err.print("[red]error:[/] give one release id or alias, or --all")
        raise typer.Exit(2)
    report = upgrade_releases(Registry(registry), None if every else [release_id or ""])
    echo(
        [f"upgraded release {r}" for r in report.upgraded]
        + [f"release {r} is already in the current format" for r in report.current]
    )


@models_app.command("families")
def models_families(plugin: PluginOption = None) -> None:
    """Registered model families: default weight, default member or not, where each came from."""
    from ai_engine.models.family import families, import_plugin

    for name in plugin or ():
        import_plugin(name)
    rows = [("family", "weight", "member", "weight files", "origin")]
    for family in families():
        files = family.weights_files
        rows.append(
            (
                family.name,
                f"{family.default_weight:.2f}",
                "yes" if family.member else "no",
                "one per horizon step" if callable(files) else ", ".join(files),
                family.origin,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    echo(["  ".join(c.ljust(w) for c, w in zip(row, [*widths, 0], strict=True)) for row in rows])
    echo(
        [
            "weight: the default weight, used by a fixed combination only; a release's signals use "
            "the weights fitted out of fold (ai-engine signal, GET /v1/models: combination)"
        ]
    )

"""The ``models`` sub-app: releases, aliases, bundles and families in the registry."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from ai_engine.cli import common
from ai_engine.cli.common import DEFAULT_REGISTRY, PluginOption, RegistryOption, echo, models_app


@models_app.command("list")
def models_list(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Releases, aliases and bundles."""
    from ai_engine.registry import Registry

    reg = Registry(registry)
    aliases = reg.aliases()
    pointed = {a.release: name for name, a in aliases.items()}
    releases = Table(title=f"releases in {reg.root}")
    for column in ("release", "alias", "model set", "created", "members", "ensemble MAE"):
        releases.add_column(column)
    for r in reg.releases():
        mae = r.metrics.get("ensemble", {}).get("mae")
        releases.add_row(
            r.id,
            pointed.get(r.id, ""),
            r.model_set,
            r.created_at[:19],
            ", ".join(f"{m.family}@{m.version}" for m in r.members),
            "-" if mae is None else f"{mae:.6f}",
        )
    common.out.print(releases)
    bundles = Table(title="bundles")
    bundles.add_column("bundle")
    for path in reg.bundle_dirs():
        bundles.add_row(str(path.relative_to(reg.root)))
    common.out.print(bundles)


@models_app.command("show")
def models_show(
    release_id: Annotated[str, typer.Argument(help="Release id or alias.")],
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """One release as JSON."""
    from ai_engine.registry import Registry

    sys.stdout.write(
        json.dumps(Registry(registry).resolve(release_id).model_dump(), indent=2) + "\n"
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
        + [f"kept {len(report.kept_releases)} release(s): {', '.join(report.kept_releases)}"]
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

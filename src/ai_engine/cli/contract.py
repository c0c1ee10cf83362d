"""``ai-engine contract check BODY.json`` and ``ai-engine contract schemas``.

``check`` validates a signal, forecast or proposal body against its JSON Schema, its freshness
(the wall clock against ``valid_until``) and, given ``--service`` or ``--registry``, that it
comes from the production release. It prints one line and exits 0 (OK) or 1 (EXPIRED,
SCHEMA or RELEASE_MISMATCH).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from ai_engine.cli.common import app
from ai_engine.errors import ConfigError

contract_app = typer.Typer(help="The signal contract: check a body, write the schemas.")
app.add_typer(contract_app, name="contract")


def _get(url: str) -> Any:
    """GET a JSON answer of the service (the one network call, to the URL given)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConfigError(f"--service: expected a JSON answer from {url}, found {exc}") from exc


@contract_app.command("check")
def check_command(
    body_file: Annotated[Path, typer.Argument(help="A signal, forecast or proposal body (JSON).")],
    service: Annotated[
        str | None, typer.Option(help="Service URL: its schema and served release.")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Registry folder: its production release.")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="Judge freshness at this ISO time (default: now).")
    ] = None,
) -> None:
    """Check BODY against its schema, its valid_until and the production release."""
    from ai_engine.contract import check, kind_of, parse_time
    from ai_engine.contract.schemas import schema

    if service is not None and registry is not None:
        raise ConfigError("give at most one of --service URL and --registry DIR, found both")
    try:
        body = json.loads(body_file.read_text())
    except (OSError, ValueError) as exc:
        typer.echo(f"SCHEMA: {body_file} is not a JSON body: {exc}")
        raise typer.Exit(1) from exc
    if not isinstance(body, dict):
        typer.echo(f"SCHEMA: {body_file}: expected a JSON object, found {type(body).__name__}")
        raise typer.Exit(1)
    kind = kind_of(body)
    production, bundles = None, None
    if service is not None:
        base = service.rstrip("/")
        body_schema = _get(f"{base}/v1/schemas/{kind}")
        served = _get(f"{base}/v1/models").get("served") or {}
        production = served.get("release")
        if production is None:
            raise ConfigError(f"--service {base}: expected a served release, found none")
    else:
        body_schema = schema(kind)
        if registry is not None:
            from ai_engine.registry import Registry

            release = Registry(registry).resolve("production")
            production = release.id
            bundles = {m.family: m.manifest_sha256 for m in release.members}
    when = None
    if now is not None:
        try:
            when = parse_time(now)
        except ValueError as exc:
            raise ConfigError(f"--now: expected an ISO-8601 time, found {now!r}") from exc
    verdict = check(body, body_schema, production=production, bundles=bundles, now=when)
    typer.echo(verdict.line())
    if not verdict.ok:
        raise typer.Exit(1)


@contract_app.command("schemas")
def schemas_command(
    write: Annotated[
        Path | None, typer.Option(help="Write every schema into this folder (docs/schemas).")
    ] = None,
) -> None:
    """Print the JSON Schemas (or write them as NAME.json files with --write)."""
    from ai_engine.contract import NAMES
    from ai_engine.contract.schemas import schema
    from ai_engine.contract.schemas import write as write_all

    if write is not None:
        for path in write_all(write):
            typer.echo(str(path))
        return
    typer.echo(json.dumps({name: schema(name) for name in NAMES}, indent=2, sort_keys=True))

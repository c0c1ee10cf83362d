"""Shared pieces of the ``ai-engine`` command line: the Typer apps, consoles, options, ``main``.

Every engine error is caught once, in ``main``, and printed as one line (``--debug`` shows the
traceback instead). Command modules print through ``common.out`` / ``common.err`` (looked up at
call time, so tests can swap the consoles).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ai_engine.errors import AIEngineError

app = typer.Typer(
    help="quantum-ai-engine: four forecasters, one consensus signal.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags as flags (not `<bool>`), never boxed at 80 columns
    pretty_exceptions_enable=False,
    add_completion=False,
    # piped help is never cut: command descriptions in full, not "publish..." at 80 columns
    context_settings={"max_content_width": 400, "terminal_width": 400}
    if not sys.stdout.isatty()
    else {},
)
models_app = typer.Typer(
    help="Releases, aliases, bundles and model families.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

PIPE_WIDTH = 400
"""Columns when output is piped or redirected: rich would assume 80 and cut release ids."""


def console(stderr: bool = False) -> Console:
    """A console as wide as the terminal, or ``PIPE_WIDTH`` when the stream is not a terminal
    (``COLUMNS`` still wins), so tables and identifiers are never cut."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or os.environ.get("COLUMNS"):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH)


out = console()
err = console(stderr=True)
state = {"debug": bool(os.environ.get("AI_ENGINE_DEBUG"))}

RegistryOption = Annotated[
    Path, typer.Option("--registry", envvar="AI_ENGINE_REGISTRY", help="Registry folder.")
]
DEFAULT_REGISTRY = Path("registry")
PluginOption = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        metavar="PLUGIN",
        help="A .py file or module that registers model families (repeatable).",
    ),
]
MembersOption = Annotated[
    str | None,
    typer.Option(
        "--members", help="Comma-separated families of the release (default: the built-in four)."
    ),
]
PresetOption = Annotated[
    str, typer.Option(help="quick, default, or tiny (a seconds-long smoke test).")
]


def member_list(members: str | None) -> list[str] | None:
    """``--members a,b,c`` as a list (None when not given)."""
    if members is None:
        return None
    return [m.strip() for m in members.split(",") if m.strip()]


@app.callback()
def root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    """Global options."""
    state["debug"] = state["debug"] or debug


def progress() -> Progress:
    """A progress bar on stderr."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def echo(lines: list[str]) -> None:
    """Plain lines on stdout (no rich markup: names like [production] stay as they are)."""
    for line in lines:
        typer.echo(line)


def main() -> None:
    """Entry point: run the app; print engine errors as one line and exit 1. ``--debug`` is
    taken anywhere on the line (`ai-engine signal ... --debug` as well as before the command)."""
    args = sys.argv[1:]
    if "--debug" in args[1:] and "--" not in args[: args.index("--debug")]:
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        app(args=args)
    except AIEngineError as exc:
        if state["debug"]:
            raise
        err.print(f"[red]error:[/] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)

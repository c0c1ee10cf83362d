"""The ``ai-engine`` command line (Typer). Thin: it parses options, calls the core, prints.

Every engine error is caught once, in ``main``, and printed as one line (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai_engine.errors import AIEngineError

app = typer.Typer(
    help="quantum-ai-engine: four forecasters, one consensus signal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(
    help="Releases, aliases and bundles in the registry.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

out = Console()
err = Console(stderr=True)
_state = {"debug": bool(os.environ.get("AI_ENGINE_DEBUG"))}

RegistryOption = Annotated[
    Path, typer.Option("--registry", envvar="AI_ENGINE_REGISTRY", help="Registry folder.")
]
DEFAULT_REGISTRY = Path("registry")


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = _state["debug"] or debug


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _train_with_progress(candles: Any, registry: Any, plan: Any, promote_to: str | None) -> Any:
    from ai_engine.models.base import ENSEMBLE_FAMILIES
    from ai_engine.training import train

    with _progress() as progress:
        task = progress.add_task("training", total=len(ENSEMBLE_FAMILIES))

        def report(family: str, event: str) -> None:
            if event == "start":
                progress.update(task, description=f"training {family}")
            else:
                progress.advance(task)

        report_ = train(candles, registry, plan, promote_to, report)
        progress.update(task, description="trained")
    return report_


def _metrics_table(metrics: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("model", "val MAE", "MAE / zero", "RMSE", "hit rate"):
        table.add_column(column, justify="right" if column != "model" else "left")
    zero = metrics["zero_forecast"]["mae"]
    for name, row in metrics.items():
        hit = "-" if name == "zero_forecast" else f"{row['hit_rate']:.3f}"  # no direction
        table.add_row(
            name, f"{row['mae']:.6f}", f"{row['mae'] / zero:.3f}", f"{row['rmse']:.6f}", hit
        )
    return table


@app.command("train")
def train_command(
    data: Annotated[
        Path, typer.Option("--data", help="Candle file (csv, parquet, feather, json).")
    ],
    symbol: Annotated[
        str | None, typer.Option(help="Symbol (default: from the file name).")
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    preset: Annotated[str, typer.Option(help="quick or default.")] = "default",
    config: Annotated[Path | None, typer.Option(help="JSON/TOML overrides.")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Point production at it.")] = False,
) -> None:
    """Train all four models, publish their bundles and a release."""
    from ai_engine.data import load_candles
    from ai_engine.registry import Registry
    from ai_engine.training import make_plan

    plan = make_plan(preset, config)
    reg = Registry(registry)
    candles = load_candles(data, symbol, timeframe)
    for warning in candles.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    report = _train_with_progress(candles, reg, plan, "production" if promote else None)
    out.print(_metrics_table(report.metrics, f"validation metrics, release {report.release.id}"))
    promoted = " and promoted to production" if promote else ""
    out.print(f"published release [bold]{report.release.id}[/] in {reg.root}{promoted}")


def _signal_table(signal: Any) -> Table:
    table = Table(title=f"{signal.symbol} {signal.timeframe} as of {signal.as_of}")
    for column in ("member", "version", "healthy", "weight", f"forecast h{signal.horizon}", "vote"):
        table.add_column(column)
    for m in signal.members:
        value = "-" if m.forecast is None else f"{m.forecast[signal.horizon - 1]:+.5f}"
        table.add_row(
            m.family,
            m.version,
            "yes" if m.healthy else f"no: {m.reason}",
            f"{m.weight:.3f}",
            value,
            m.vote or "-",
        )
    return table


def _print_signal(signal: Any) -> None:
    out.print(_signal_table(signal))
    consensus = signal.consensus
    out.print(
        f"[bold]{signal.action}[/] confidence {signal.confidence:.2f}, expected return "
        f"{signal.expected_return:+.5f} over {signal.horizon} bars; consensus "
        f"{consensus['agreeing']}/{consensus['required']} required, "
        f"{consensus['healthy']} healthy; release {signal.release}"
    )


@app.command("signal")
def signal_command(
    data: Annotated[
        Path, typer.Option("--data", help="Candle file; the signal is for its last bar.")
    ],
    registry: RegistryOption = DEFAULT_REGISTRY,
    release: Annotated[str, typer.Option(help="Release id or alias.")] = "production",
    symbol: Annotated[
        str | None, typer.Option(help="Symbol (default: from the file name).")
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The signal for the latest bar of a candle file."""
    from ai_engine.data import ValidationSettings, load_candles
    from ai_engine.engine import Engine

    engine = Engine.load(registry, release)
    settings = ValidationSettings(min_rows=engine.required_candles)
    candles = load_candles(data, symbol, timeframe, settings)
    signal = engine.signal(candles)
    if as_json:
        sys.stdout.write(json.dumps(signal.to_json(), allow_nan=False) + "\n")
    else:
        _print_signal(signal)


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
    out.print(releases)
    bundles = Table(title="bundles")
    bundles.add_column("bundle")
    for path in reg.bundle_dirs():
        bundles.add_row(str(path.relative_to(reg.root)))
    out.print(bundles)


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
    out.print(f"{alias} -> {updated.release}")


@models_app.command("rollback")
def models_rollback(
    alias: Annotated[str, typer.Option(help="Alias to roll back.")] = "production",
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Point an alias back at its previous release."""
    from ai_engine.registry import Registry

    updated = Registry(registry).rollback(alias)
    out.print(f"{alias} -> {updated.release}")


def _echo(lines: list[str]) -> None:
    """Plain lines on stdout (no rich markup: names like [production] stay as they are)."""
    for line in lines:
        typer.echo(line)


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
        _echo(check.lines())
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
    _echo(
        [f"removed release {r}" for r in report.removed_releases]
        + [f"removed bundle {b}" for b in report.removed_bundles]
        + [f"removed leftover {x}" for x in report.removed_leftovers]
        + [f"kept {len(report.kept_releases)} release(s): {', '.join(report.kept_releases)}"]
    )


@app.command("doctor")
def doctor_command(registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Check every release and bundle: exit 0 production OK, 1 no consensus, 2 unusable."""
    from ai_engine.doctor import EXIT_UNUSABLE, diagnose

    try:
        report = diagnose(registry)
    except (AIEngineError, OSError) as exc:
        typer.echo(f"registry {registry} unusable: {type(exc).__name__}: {exc} (exit 2)")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    _echo(report.lines())
    raise typer.Exit(report.exit_code)


LookbackOption = Annotated[
    int | None, typer.Option(help="Legacy PatchTST input length (not in the weights).")
]
HeadsOption = Annotated[int | None, typer.Option(help="Legacy PatchTST attention heads.")]
StrideOption = Annotated[int | None, typer.Option(help="Legacy PatchTST patch stride.")]
PoolingOption = Annotated[str | None, typer.Option(help="Legacy PatchTST pooling: mean or last.")]


@app.command("inspect")
def inspect_command(
    file: Annotated[Path, typer.Argument(help="Legacy PyTorch checkpoint (.pt/.pth).")],
    lookback: LookbackOption = None,
    n_heads: HeadsOption = None,
    stride: StrideOption = None,
    pooling: PoolingOption = None,
) -> None:
    """Read a legacy checkpoint safely (weights only) and print the architecture it implies."""
    from ai_engine.legacy_import import inspect_checkpoint

    _echo(
        inspect_checkpoint(
            file, lookback=lookback, n_heads=n_heads, stride=stride, pooling=pooling
        ).lines()
    )


@app.command("import-legacy")
def import_legacy_command(
    file: Annotated[Path, typer.Argument(help="Legacy checkpoint (.pt/.pth) or pickle (.pkl).")],
    registry: RegistryOption = DEFAULT_REGISTRY,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle", help="Allow unpickling .pkl models/scalers (runs their code)."
        ),
    ] = False,
    scaler: Annotated[Path | None, typer.Option(help="Input scaler (.json, or .pkl).")] = None,
    no_scaler: Annotated[
        bool, typer.Option("--no-scaler", help="The model takes its inputs unscaled.")
    ] = False,
    lookback: LookbackOption = None,
    n_heads: HeadsOption = None,
    stride: StrideOption = None,
    pooling: PoolingOption = None,
) -> None:
    """Convert a legacy checkpoint into a bundle under bundles/imported/ (strictly loaded)."""
    from ai_engine.legacy_import import import_legacy

    result = import_legacy(
        file,
        registry,
        trust_pickle=trust_pickle,
        scaler=scaler,
        no_scaler=no_scaler,
        lookback=lookback,
        n_heads=n_heads,
        stride=stride,
        pooling=pooling,
    )
    _echo(result.lines())


@app.command("demo")
def demo_command(
    registry: RegistryOption = DEFAULT_REGISTRY,
    preset: Annotated[str, typer.Option(help="quick or default.")] = "default",
) -> None:
    """Train on S&P 500 daily candles (shipped by `arch`), promote, load, print the signal."""
    from ai_engine.data import demo_candles
    from ai_engine.engine import Engine
    from ai_engine.registry import Registry
    from ai_engine.training import make_plan

    candles = demo_candles()
    out.print(
        f"S&P 500 daily candles from the arch package: {len(candles.frame)} bars, "
        f"{candles.frame.index[0].date()} .. {candles.frame.index[-1].date()}"
    )
    report = _train_with_progress(candles, Registry(registry), make_plan(preset), "production")
    out.print(_metrics_table(report.metrics, f"validation metrics, release {report.release.id}"))
    engine = Engine.load(registry, "production")
    out.print(
        f"loaded release {engine.release.id} from {registry} in a fresh Engine: "
        f"{engine.healthy_count}/{len(engine.members)} members healthy"
    )
    _print_signal(engine.signal(candles))


DEFAULT_REPORT = Path("backtest-report")


@app.command("backtest")
def backtest_command(
    data: Annotated[Path | None, typer.Option("--data", help="Candle file (or --demo).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="S&P 500 daily candles from arch.")] = False,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: file name).")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    preset: Annotated[str, typer.Option(help="quick or default.")] = "default",
    config: Annotated[Path | None, typer.Option(help="JSON/TOML training overrides.")] = None,
    weighting: Annotated[str | None, typer.Option(help="fixed or validation (overrides).")] = None,
    folds: Annotated[int, typer.Option(help="Walk-forward folds.")] = 5,
    train_bars: Annotated[int | None, typer.Option(help="Rolling training window (rows).")] = None,
    expanding: Annotated[bool, typer.Option(help="Expanding training window (default).")] = False,
    test_bars: Annotated[int | None, typer.Option(help="Test bars per fold.")] = None,
    gap: Annotated[int | None, typer.Option(help="Bars between training targets and test.")] = None,
    fee: Annotated[float, typer.Option(help="Fee per unit traded (0.001 = 0.1%).")] = 0.001,
    slippage: Annotated[float, typer.Option(help="Slippage per unit traded.")] = 0.0005,
    short: Annotated[bool, typer.Option("--short/--no-short", help="SELL goes short.")] = True,
    hold: Annotated[str, typer.Option(help="signal (follow each bar) or horizon.")] = "signal",
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = DEFAULT_REPORT,
) -> None:
    """Walk-forward backtest: train per fold, forecast, score, simulate trading, write a report."""
    import dataclasses

    from ai_engine.backtest import BacktestSettings, run_backtest
    from ai_engine.backtest.report import summary_tables, write_report
    from ai_engine.data import demo_candles, load_candles
    from ai_engine.errors import ConfigError
    from ai_engine.training import make_plan

    if (data is None) == (not demo):
        raise ConfigError("give exactly one of --data FILE and --demo")
    if expanding and train_bars is not None:
        raise ConfigError("--expanding and --train-bars exclude each other (rolling window)")
    settings = BacktestSettings(
        folds=folds,
        test_bars=test_bars,
        train_bars=train_bars,
        gap=gap,
        fee=fee,
        slippage=slippage,
        short=short,
        hold=hold,  # type: ignore[arg-type]  # BacktestSettings validates it
    )
    plan = make_plan(preset, config)
    if weighting is not None:
        plan = dataclasses.replace(plan, weighting=weighting)  # type: ignore[arg-type]
    candles = demo_candles() if data is None else load_candles(data, symbol, timeframe)
    for warning in candles.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    from ai_engine.models.base import ENSEMBLE_FAMILIES

    with _progress() as progress:
        task = progress.add_task("backtest", total=folds * (len(ENSEMBLE_FAMILIES) + 1))

        def report(fold: int, stage: str, event: str) -> None:
            if event == "start":
                verb = "forecasting" if stage == "forecast" else f"training {stage}"
                progress.update(task, description=f"fold {fold + 1}/{folds}: {verb}")
            else:
                progress.advance(task)

        result = run_backtest(candles, plan, settings, progress=report)
        progress.update(task, description="backtest done")
    for table in summary_tables(result.report):
        out.print(table)
    paths = write_report(result, out_dir)
    out.print(
        f"wrote {paths['json']}, {paths['html']} and {paths['csv']} "
        f"in {result.report['wall_seconds']:.0f} s"
    )


@app.command("serve")
def serve_command(
    registry: RegistryOption = DEFAULT_REGISTRY,
    release: Annotated[
        str, typer.Option(envvar="AI_ENGINE_RELEASE", help="Alias (watched) or release id.")
    ] = "production",
    host: Annotated[str, typer.Option(envvar="AI_ENGINE_HOST", help="Address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="AI_ENGINE_PORT", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Processes; each loads the release.")] = 1,
    max_candles: Annotated[
        int, typer.Option(envvar="AI_ENGINE_MAX_CANDLES", help="Most candles per request.")
    ] = 10_000,
    watch_interval: Annotated[
        float,
        typer.Option(
            envvar="AI_ENGINE_WATCH_INTERVAL", help="Seconds between alias checks; 0: off."
        ),
    ] = 2.0,
    log_level: Annotated[
        str, typer.Option(envvar="AI_ENGINE_LOG_LEVEL", help="JSON log level.")
    ] = "INFO",
    threads: Annotated[
        int, typer.Option(envvar="AI_ENGINE_THREADS", help="Compute threads per process.")
    ] = 1,
) -> None:
    """Serve signals over HTTP (see docs/api.md); admin token from AI_ENGINE_ADMIN_TOKEN."""
    from ai_engine.service import ServiceSettings, serve

    settings = ServiceSettings(
        registry=registry,
        release=release,
        max_candles=max_candles,
        admin_token=os.environ.get("AI_ENGINE_ADMIN_TOKEN") or None,
        watch_interval_s=watch_interval,
        log_level=log_level.upper(),
        threads=threads,
    )
    serve(settings, host, port, workers)


def main() -> None:
    """Entry point: run the app; print engine errors as one line and exit 1."""
    try:
        app()
    except AIEngineError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Forecasting commands: ``train``, ``signal``, ``demo`` and ``backtest``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ai_engine.cli import common, multi
from ai_engine.cli.common import (
    DEFAULT_REGISTRY,
    MembersOption,
    PluginOption,
    PresetOption,
    RegistryOption,
    app,
    member_list,
    progress,
)


def _train_with_progress(candles: Any, registry: Any, plan: Any, promote_to: str | None) -> Any:
    from ai_engine.training import train

    with progress() as bar:
        task = bar.add_task("training", total=len(plan.members))

        def report(family: str, event: str) -> None:
            if event == "start":
                bar.update(task, description=f"training {family}")
            else:
                bar.advance(task)

        report_ = train(candles, registry, plan, promote_to, report)
        bar.update(task, description="trained")
    return report_


def _metrics_table(metrics: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("model", "val MAE", "MAE / zero", "RMSE", "hit rate"):
        table.add_column(column, justify="right" if column != "model" else "left")
    zero = metrics["zero_forecast"]["mae"]
    for name, row in metrics.items():
        rate = row["hit_rate"]  # None: the forecast is 0 on every row, no direction to score
        hit = "—" if rate is None else f"{rate:.3f}"
        table.add_row(
            name, f"{row['mae']:.6f}", f"{row['mae'] / zero:.3f}", f"{row['rmse']:.6f}", hit
        )
    return table


@app.command("train")
def train_command(
    data: Annotated[
        list[Path],
        typer.Option(
            "--data",
            metavar="FILE",
            help="Candle file (csv, parquet, feather, json); repeat, or a folder: many.",
        ),
    ],
    symbol: Annotated[
        str | None, typer.Option(help="Symbol (default: from the file name).")
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
    preset: PresetOption = "default",
    config: Annotated[Path | None, typer.Option(help="JSON/TOML overrides.")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Point production at it.")] = False,
    plugin: PluginOption = None,
    members: MembersOption = None,
    jobs: multi.JobsOption = 1,
    executor: multi.ExecutorOption = "local",
    ray_address: multi.RayAddressOption = None,
    trees: multi.TreesOption = "pooled",
    group_by: multi.GroupByOption = "timeframe",
    model_set: multi.ModelSetOption = None,
    min_bars: multi.MinBarsOption = None,
) -> None:
    """Train the members (default: the built-in four), publish their bundles and a release.

    Several files or a folder: one release per timeframe covering their symbols
    (docs/multi-symbol.md)."""
    if len(data) > 1 or data[0].is_dir():
        options = multi.MultiOptions(
            jobs, executor, ray_address, trees, group_by, model_set, min_bars
        )
        plan_spec = multi.plan_spec(preset, config, plugin, member_list(members))
        return multi.train_many(data, timeframe, registry, plan_spec, promote, options, symbol)
    path = data[0]  # one file: the single-symbol path
    from ai_engine.data import load_candles
    from ai_engine.registry import Registry
    from ai_engine.training import make_plan

    plan = make_plan(preset, config, plugin or (), member_list(members))
    reg = Registry(registry)
    candles = load_candles(path, symbol, timeframe)
    for warning in candles.warnings:
        common.err.print(f"[yellow]warning:[/] {warning}")
    report = _train_with_progress(candles, reg, plan, "production" if promote else None)
    title = f"validation metrics, release {report.release.id}"
    common.out.print(_metrics_table(report.metrics, title))
    from ai_engine.evaluation.evidence import edge_line

    common.out.print(edge_line(report.release.evaluation.get("edge", {})))
    promoted = " and promoted to production" if promote else ""
    common.out.print(f"published release [bold]{report.release.id}[/] in {reg.root}{promoted}")


def _signal_table(signal: Any, weights: str | None = None) -> Table:
    """The members' table; ``weights`` labels the weight column (Engine.combination)."""
    table = Table(
        title=f"{signal.symbol} {signal.timeframe} as of {signal.as_of}",
        caption=f"weight: {weights}" if weights else None,
    )
    columns = ("member", "version", "healthy", f"weight h{signal.horizon}")
    for column in (*columns, f"forecast h{signal.horizon}", "vote"):
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


def _print_signal(signal: Any, weights: str | None = None) -> None:
    from ai_engine.signal_text import consensus_line

    common.out.print(_signal_table(signal, weights))
    common.out.print(consensus_line(signal), highlight=False, markup=False, soft_wrap=True)
    from ai_engine.evaluation.evidence import edge_line

    common.out.print(edge_line(signal.edge))


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
    from ai_engine.errors import DataValidationError
    from ai_engine.serving import LocalEngines, Router, Signals

    if not data.is_file():  # the data file first: it is what the user typed
        raise DataValidationError(f"{data}: expected a candle file, found nothing there")
    signals = Signals(Router(LocalEngines(registry, release)), stale_check=False)
    settings = ValidationSettings(min_rows=signals.router.source.require().required_candles)
    candles = load_candles(data, symbol, timeframe, settings)
    engine = signals.route(candles.symbol, candles.timeframe)  # the release covering the symbol
    mismatch = engine.timeframe_error(candles.timeframe)
    if mismatch is not None:
        raise DataValidationError(mismatch)  # the HTTP API's message, word for word
    if candles.symbol != engine.release.symbol:
        common.err.print(
            f"[yellow]warning:[/] symbol {candles.symbol!r} is not the {engine.release.symbol!r} "
            f"release {engine.release.id} was trained on; its evidence may not apply",
            highlight=False,
            soft_wrap=True,
        )
    signal = signals.signal_of(engine, candles)
    if as_json:
        sys.stdout.write(json.dumps(signal.to_json(), allow_nan=False) + "\n")
    else:
        _print_signal(signal, engine.combination()["label"])


@app.command("demo")
def demo_command(
    registry: RegistryOption = DEFAULT_REGISTRY,
    preset: PresetOption = "default",
) -> None:
    """Train on S&P 500 daily candles (shipped by `arch`), promote, load, print the signal."""
    from ai_engine.data import demo_candles
    from ai_engine.registry import Registry
    from ai_engine.serving import LocalEngines, Router, Signals
    from ai_engine.training import make_plan

    candles = demo_candles()
    common.out.print(
        f"S&P 500 daily candles from the arch package: {len(candles.frame)} bars, "
        f"{candles.frame.index[0].date()} .. {candles.frame.index[-1].date()}"
    )
    report = _train_with_progress(candles, Registry(registry), make_plan(preset), "production")
    title = f"validation metrics, release {report.release.id}"
    common.out.print(_metrics_table(report.metrics, title))
    from ai_engine.evaluation.evidence import edge_line

    common.out.print(edge_line(report.release.evaluation.get("edge", {})))
    plane = Signals(Router(LocalEngines(registry, "production")), stale_check=False)
    engine = plane.router.source.require()
    common.out.print(
        f"loaded release {engine.release.id} from {registry} in a fresh Engine: "
        f"{engine.healthy_count}/{len(engine.members)} members healthy"
    )
    engine, signal = plane.signal_now(candles)
    _print_signal(signal, engine.combination()["label"])


DEFAULT_REPORT = Path("backtest-report")


@app.command("backtest")
def backtest_command(
    data: Annotated[Path | None, typer.Option("--data", help="Candle file (or --demo).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="S&P 500 daily candles from arch.")] = False,
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: file name).")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    preset: PresetOption = "default",
    config: Annotated[Path | None, typer.Option(help="JSON/TOML training overrides.")] = None,
    plugin: PluginOption = None,
    members: MembersOption = None,
    weighting: Annotated[
        str | None,
        typer.Option(
            help="Weights of a fixed combination: fixed (the families' defaults) or validation "
            "(inverse error); the combination (nnls by default) is `combination` in --config."
        ),
    ] = None,
    folds: Annotated[int, typer.Option(help="Walk-forward folds.")] = 5,
    train_bars: Annotated[int | None, typer.Option(help="Rolling training window (rows).")] = None,
    expanding: Annotated[
        bool,
        typer.Option(
            "--expanding", help="Expanding training window; the default unless --train-bars."
        ),
    ] = False,
    test_bars: Annotated[int | None, typer.Option(help="Test bars per fold.")] = None,
    gap: Annotated[int | None, typer.Option(help="Bars between training targets and test.")] = None,
    fee: Annotated[float, typer.Option(help="Fee per unit traded (0.001 = 0.1%).")] = 0.001,
    slippage: Annotated[float, typer.Option(help="Slippage per unit traded.")] = 0.0005,
    short: Annotated[bool, typer.Option("--short/--no-short", help="SELL goes short.")] = True,
    hold: Annotated[str, typer.Option(help="signal (follow each bar) or horizon.")] = "signal",
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = DEFAULT_REPORT,
    release: Annotated[
        str | None,
        typer.Option(help="Replay this release over every bar instead (no training)."),
    ] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Walk-forward backtest: train per fold, forecast, score, simulate trading, write a report.

    With --release: replay a trained release's signals over every bar of the data (causal, as
    /v1/signal would answer) and its rule's positions; writes signals.csv and replay.json."""
    import dataclasses

    if release is not None:
        from ai_engine.cli.replay import replay_command

        args = (data, demo, symbol, timeframe, registry, release, fee, slippage, out_dir)
        return replay_command(*args)

    from ai_engine.backtest import BacktestSettings, run_backtest
    from ai_engine.backtest.report import summary_tables, write_report
    from ai_engine.backtest.verdict import verdict_lines
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
    plan = make_plan(preset, config, plugin or (), member_list(members))
    if weighting is not None:
        plan = dataclasses.replace(plan, weighting=weighting)  # type: ignore[arg-type]
    candles = demo_candles() if data is None else load_candles(data, symbol, timeframe)
    for warning in candles.warnings:
        common.err.print(f"[yellow]warning:[/] {warning}")
    with progress() as bar:
        task = bar.add_task("backtest", total=folds * (len(plan.members) + 1))

        def report(fold: int, stage: str, event: str) -> None:
            if event == "start":
                verb = "forecasting" if stage == "forecast" else f"training {stage}"
                bar.update(task, description=f"fold {fold + 1}/{folds}: {verb}")
            else:
                bar.advance(task)

        result = run_backtest(candles, plan, settings, progress=report)
        bar.update(task, description="backtest done")
    for line in verdict_lines(result.report):  # the headline first
        common.out.print(line, highlight=False, markup=False, soft_wrap=True)
    for table in summary_tables(result.report):
        common.out.print(table)
    paths = write_report(result, out_dir)
    common.out.print(
        f"wrote {paths['json']}, {paths['html']} and {paths['csv']} "
        f"in {result.report['wall_seconds']:.0f} s"
    )

"""Many symbols from the command line: ``train`` over several files or a folder, ``retrain``.

``train`` calls ``train_many`` when ``--data`` is repeated or names a folder; the options here
are shared with ``retrain``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ai_engine.cli import common

JobsOption = Annotated[
    int,
    typer.Option("--jobs", min=1, metavar="N", help="Parallel training tasks (one thread each)."),
]
ExecutorOption = Annotated[
    str, typer.Option("--executor", help="local (process pool) or ray (quantum-ai-engine[ray]).")
]
RayAddressOption = Annotated[
    str | None, typer.Option("--ray-address", help="auto, ray://host:10001, or none: local.")
]
TreesOption = Annotated[
    str, typer.Option("--trees", help="pooled (one model for all symbols) or per_symbol.")
]
GroupByOption = Annotated[
    str,
    typer.Option(
        "--group-by",
        help="timeframe (one release each), symbol, or all (one release for every series).",
    ),
]
ModelSetOption = Annotated[
    str | None,
    typer.Option("--model-set", help="Model set name (default: multi-<timeframe>, or multi)."),
]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MinBarsOption = Annotated[
    int | None, typer.Option("--min-bars", help="Skip (with a warning) files with fewer bars.")
]


@dataclass(frozen=True)
class MultiOptions:
    """How a multi-symbol run is cut into tasks and where they run."""

    jobs: int = 1
    executor: str = "local"
    ray_address: str | None = None
    trees: str = "pooled"
    group_by: str = "timeframe"
    model_set: str | None = None
    min_bars: int | None = None


def plan_spec(
    preset: str, config: Path | None, plugins: list[str] | None, members: list[str] | None
) -> dict[str, Any]:
    """The JSON-able plan a task rebuilds (validated here first, so errors come before work)."""
    from ai_engine.multi.tasks import plan_of

    spec: dict[str, Any] = {"preset": preset, "plugins": list(plugins or ())}
    if config is not None:
        spec["config"] = str(config.resolve())
    if members:
        spec["members"] = members
    plan_of(spec)
    return spec


def train_many(
    data: list[Path],
    timeframe: str | None,
    registry: Path,
    plan: dict[str, Any],
    promote: bool,
    options: MultiOptions,
    symbol: str | None = None,
) -> None:
    """Validate every file, cut the run into tasks, run them, print what each release covers."""
    from ai_engine.errors import ConfigError
    from ai_engine.multi.executors import make_executor
    from ai_engine.multi.sources import load_sources
    from ai_engine.multi.tasks import make_tasks, run_tasks
    from ai_engine.multi.training import TREES

    if symbol is not None:
        raise ConfigError("--symbol is for one file; with several, symbols come from file names")
    if options.trees not in TREES:
        raise ConfigError(f"--trees must be one of {list(TREES)}, found {options.trees!r}")
    executor = make_executor(options.executor, options.jobs, options.ray_address)
    sources, warnings = load_sources(data, timeframe, options.min_bars)
    for warning in warnings:
        common.err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    registry = registry.resolve()
    alias = "production" if promote else None
    tasks = make_tasks(
        sources, registry, plan, options.group_by, options.trees, options.model_set, alias
    )
    common.err.print(
        f"{len(sources)} file(s) -> {len(tasks)} task(s) on {executor.name} (jobs {options.jobs})",
        highlight=False,
    )
    start = time.perf_counter()
    results = run_tasks(tasks, executor, registry, alias)
    common.out.print(coverage_table(results))
    for result in results:
        common.out.print(
            f"published release [bold]{result['release']}[/] ({result['model_set']}, "
            f"{result['timeframe']}) covering {_covering(result)}"
            + (f" as {result['alias']}" if result["alias"] else ""),
            highlight=False,
        )
    if promote:
        common.out.print(f"production -> {common_release(registry)}", highlight=False)
    summary = {
        "seconds": round(time.perf_counter() - start, 2),
        "executor": executor.name,
        "jobs": options.jobs,
        "tasks": [{k: r[k] for k in ("release", "seconds", "peak_rss_mb")} for r in results],
    }
    common.err.print(json.dumps(summary), highlight=False, soft_wrap=True)


def common_release(registry: Path) -> str:
    from ai_engine.registry import Registry

    return Registry(registry).alias("production").release


def coverage_table(results: list[dict[str, Any]]) -> Table:
    """One row per series: its release, edge verdict and validation MAE against zero's."""
    from ai_engine.coverage import SERIES_SEP, split_key

    table = Table(title="per-symbol validation (MAE / zero < 1: better than no change)")
    for column in ("symbol", "timeframe", "release", "edge", "ensemble MAE", "MAE / zero"):
        table.add_column(column)
    for result in results:
        for name, row in result["per_symbol"].items():
            mae, zero = row["mae"], row["zero_mae"]
            symbol, timeframe = split_key(name) if SERIES_SEP in name else (name, None)
            table.add_row(
                symbol,
                timeframe or result["timeframe"],
                result["release"],
                "yes" if row["edge"] else "no: HOLD",
                "-" if mae is None else f"{mae:.6f}",
                "-" if mae is None or not zero else f"{mae / zero:.3f}",
            )
    return table


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def covers_line(release: Any) -> str:
    """What a release covers, for ``models list``: its symbols and timeframe(s)."""
    if release.any_symbol:
        return f"{release.symbol} {release.timeframe} (any symbol)"
    if release.listed_series:
        return ", ".join(map(_spaced, release.listed_series))
    return f"{', '.join(release.symbols)} {release.timeframe}"


def _covering(result: dict[str, Any]) -> str:
    """A task result's coverage: its symbols, or its series when it spans timeframes."""
    if "," in result["timeframe"]:
        return ", ".join(map(_spaced, result["series"]))
    return ", ".join(result["symbols"])


def _spaced(key: str) -> str:
    """``ADA_BTC@5m`` -> ``ADA_BTC 5m``."""
    from ai_engine.coverage import split_key

    return " ".join(split_key(key))


def symbol_lines(release: Any) -> list[str]:
    """One line per covered symbol (several timeframes: ``SYMBOL@TF``) of a multi-symbol
    release: its own edge verdict."""
    from ai_engine.evaluation.evidence import edge_line

    if release.any_symbol:
        return []
    several = len(release.timeframes) > 1
    return [
        f"symbol       {s.key if several else s.symbol}: {edge_line(s.evaluation.get('edge', {}))}"
        for s in release.series
    ]


def gate_lines(registry: Any, release_id: str) -> list[str]:
    """The quality gate's decision on a release, when ``retrain`` judged it."""
    from ai_engine.multi.gate import read_decision

    decision = read_decision(registry, release_id)
    if decision is None:
        return []
    verdict = "promoted" if decision["promoted"] else "refused"
    return [f"quality gate {verdict} against {decision['production']}: {decision['reason']}"]


@common.app.command("retrain")
def retrain_command(
    data: Annotated[
        list[Path], typer.Option("--data", help="Candle files or folders (any timeframes).")
    ],
    registry: common.RegistryOption = common.DEFAULT_REGISTRY,
    alias: Annotated[str, typer.Option(help="Alias to gate, e.g. production@multi-5m.")] = (
        "production"
    ),
    preset: common.PresetOption = "default",
    config: Annotated[Path | None, typer.Option(help="JSON/TOML overrides.")] = None,
    plugin: common.PluginOption = None,
    members: common.MembersOption = None,
    trees: TreesOption = "pooled",
    timeframe: Annotated[str | None, typer.Option(help="Timeframe like 5m, 1h, 1d.")] = None,
    model_set: ModelSetOption = None,
    holdout_bars: Annotated[int, typer.Option(help="Newest bars held out per symbol.")] = 500,
    max_mae_increase: Annotated[
        float, typer.Option(help="Allowed rise of MAE/zero over production's.")
    ] = 0.0,
    max_net_loss: Annotated[
        float, typer.Option(help="Allowed fall of net return per bar below production's.")
    ] = 0.0,
    candidate: Annotated[
        str | None, typer.Option(help="Judge this release instead of training one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Train a candidate on the newest data; promote it only when it is not worse than the
    alias's release on the newest held-out bars (thresholds: docs/multi-symbol.md)."""
    import logging

    from ai_engine.multi.gate import GateSettings
    from ai_engine.multi.retrain import retrain

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    settings = GateSettings(holdout_bars, max_mae_increase, max_net_loss)
    spec = plan_spec(preset, config, plugin, common.member_list(members))
    decision = retrain(
        data, registry, spec, alias, settings, trees, timeframe, model_set, candidate
    )
    if as_json:
        write_json(decision)
        return
    verdict = "promoted to" if decision["promoted"] else "refused for"
    common.out.print(
        f"candidate {decision['candidate']} {verdict} {alias}: {decision['reason']}",
        highlight=False,
        markup=False,
    )

"""Training tasks for an executor: one group of series -> one release.

Groupings: ``timeframe`` (one release per timeframe), ``symbol`` (one per symbol and
timeframe), ``all`` (one release for every series, whatever their timeframes).

A task is a JSON-able dict (files, timeframe, model set, registry path, plan, trees mode,
alias); ``run_train_task`` loads and validates its files itself (errors name the file),
trains, publishes through the registry and returns a JSON-able summary. The same task and
seed give the same bundles in any process (tests/multi/test_executors.py).
"""

from __future__ import annotations

import dataclasses
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ai_engine.coverage import series_key, series_of, set_alias
from ai_engine.errors import ConfigError
from ai_engine.multi.executors import Executor, Result, Task
from ai_engine.multi.sources import Source, by_timeframe, load_sources
from ai_engine.registry import Registry
from ai_engine.training import TrainingPlan, make_plan

GROUPINGS: tuple[str, ...] = ("timeframe", "symbol", "all")
ALL_SET = "multi"
"""The model set of a ``group_by="all"`` release unless one is named."""


def plan_of(spec: dict[str, Any]) -> TrainingPlan:
    """A training plan from its JSON-able description (``make_plan`` arguments, ``families``
    overrides, ``seed``); always one torch thread: a task is one core's work."""
    plan = make_plan(
        spec.get("preset", "default"),
        spec.get("config"),
        spec.get("plugins", ()),
        spec.get("members"),
    )
    changes: dict[str, Any] = {"threads": 1}
    if "families" in spec:
        changes["families"] = {**plan.families, **spec["families"]}
    if "seed" in spec:
        changes["seed"] = int(spec["seed"])
    return dataclasses.replace(plan, **changes)


def make_tasks(
    sources: Sequence[Source],
    registry: str | Path,
    plan: dict[str, Any],
    group_by: str = "timeframe",
    trees: str = "pooled",
    model_set: str | None = None,
    promote: str | None = None,
) -> list[Task]:
    """One task per timeframe (every symbol pooled), per symbol and timeframe, or one for all
    (timeframe None: each file keeps its own)."""
    if group_by not in GROUPINGS:
        raise ConfigError(f"--group-by must be one of {list(GROUPINGS)}, found {group_by!r}")
    groups: list[tuple[str, str | None, list[Source]]] = []
    timeframes = by_timeframe(sources)
    if group_by == "all":
        every = [s for group in timeframes.values() for s in group]
        only = next(iter(timeframes)) if len(timeframes) == 1 else None
        groups.append((model_set or ALL_SET, only, every))
        timeframes = {}
    for timeframe, group in timeframes.items():
        if group_by == "symbol":
            groups += [(f"{s.candles.symbol}-{timeframe}", timeframe, [s]) for s in group]
        elif model_set is not None:
            name = model_set if len(timeframes) == 1 else f"{model_set}-{timeframe}"
            groups.append((name, timeframe, group))
        else:
            groups.append((f"multi-{timeframe}", timeframe, group))
    return [
        {
            "files": [str(s.path) for s in group],
            "timeframe": timeframe,
            "model_set": name,
            "registry": str(registry),
            "plan": plan,
            "trees": trees,
            "promote_to": None if promote is None else set_alias(promote, name),
        }
        for name, timeframe, group in groups
    ]


def run_train_task(task: Task) -> Result:
    """Load, validate, train and publish one task; a JSON-able summary back."""
    from ai_engine.multi.pooling import symbol_rows
    from ai_engine.multi.training import train_pooled

    start = time.perf_counter()
    sources, warnings = load_sources(task["files"], timeframe=task["timeframe"])
    parts = [
        symbol_rows(s.candles.frame, s.candles.symbol, s.path, timeframe=s.candles.timeframe)
        for s in sources
    ]
    report = train_pooled(
        parts,
        Registry(task["registry"]),
        plan_of(task["plan"]),
        task["model_set"],
        task["timeframe"],
        task.get("trees", "pooled"),
        task.get("promote_to"),
    )
    metrics = report.metrics
    zero = metrics.get("zero_forecast", {}).get("mae")
    return {
        "release": report.release.id,
        "model_set": report.release.model_set,
        "timeframe": report.release.timeframe,
        "symbols": report.release.symbols,
        "series": [series_key(s, tf) for s, tf in series_of(report.release)],
        "alias": task.get("promote_to"),
        "ensemble_mae": metrics.get("ensemble", {}).get("mae"),
        "zero_mae": zero,
        "per_symbol": {
            s: {
                "edge": bool(r["evaluation"]["edge"]["enabled"]),
                "mae": r["metrics"].get("ensemble", {}).get("mae"),
                "zero_mae": r["metrics"].get("zero_forecast", {}).get("mae"),
                "members_mae": {
                    k: v["mae"] for k, v in r["metrics"].items() if k not in ("zero_forecast",)
                },
            }
            for s, r in report.per_symbol.items()
        },
        "warnings": warnings,
        "seconds": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_tasks(
    tasks: Sequence[Task], executor: Executor, registry: str | Path, alias: str | None
) -> list[Result]:
    """Run every task; with ``alias``, point it (global) at the release covering most series."""
    results = executor.map(run_train_task, tasks)
    if alias is not None and results:
        best = max(results, key=lambda r: len(r["series"]))
        Registry(registry).promote(best["release"], alias)
    return results

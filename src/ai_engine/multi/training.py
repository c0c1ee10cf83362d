"""One release for several symbols of one timeframe, or for several (symbol, timeframe) series.

Sequence families (windows of log returns: scale-free per window, so pairs at any price level
mix) train one global model on every symbol's rows. Tree families are pooled too (the 22
features are returns, ratios and z-scores: symbol-agnostic) or, with ``trees="per_symbol"``,
fitted once per symbol. Out-of-fold forecasts come from an inner walk-forward cut by time
across symbols (``pooling``); ``evaluation.evaluate`` then runs on each symbol's own
out-of-fold rows, so each symbol gets its own edge verdict, combination, decision rule and
intervals (``release.per_symbol``): a symbol without an edge holds, the others trade.
``release.evaluation`` holds the same evaluation over all symbols' rows together (a summary;
serving uses the symbol's own). Given series of several timeframes, the release declares them as
``series`` (``SYMBOL@TF``) and keys ``per_symbol`` and per-series trees by them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import numpy as np

from ai_engine.bundle import BundleInfo, save_bundle
from ai_engine.coverage import SERIES_SEP, series_key, split_key
from ai_engine.data import timeframe_delta
from ai_engine.errors import ConfigError
from ai_engine.evaluation import Evidence, OutOfFold, evaluate
from ai_engine.evaluation.combination import Defaults
from ai_engine.evaluation.oof import take
from ai_engine.features import CURRENT_SPEC, FeatureSpec
from ai_engine.models.base import Forecaster, build, get_family
from ai_engine.models.family import descriptor
from ai_engine.multi.pooling import (
    Split,
    SymbolRows,
    concat,
    final_split,
    gather,
    time_folds,
)
from ai_engine.registry import Registry, Release, ReleaseMember, safe_name, utc_stamp
from ai_engine.release_format import Series
from ai_engine.training import (
    PROBE_ROWS,
    TrainingPlan,
    fit_family,
    forecast_metrics,
    min_rows_to_fit,
    validation_weights,
)

Trees = Literal["pooled", "per_symbol"]
TREES: tuple[str, ...] = ("pooled", "per_symbol")


@dataclass
class Fitted:
    """Models of one fit: global ones by family, per-symbol ones by (family, symbol)."""

    shared: dict[str, Forecaster]
    local: dict[tuple[str, str], Forecaster]

    def model(self, family: str, symbol: str) -> Forecaster:
        return self.shared[family] if family in self.shared else self.local[(family, symbol)]


@dataclass(frozen=True)
class MultiReport:
    """The published release and what it found per symbol."""

    release: Release
    metrics: dict[str, dict[str, Any]]
    per_symbol: dict[str, dict[str, Any]]


def local_families(plan: TrainingPlan, trees: str) -> tuple[str, ...]:
    """Members fitted once per symbol: the tabular ones when trees are per symbol."""
    if trees not in TREES:
        raise ConfigError(f"trees must be one of {list(TREES)}, found {trees!r}")
    if trees == "pooled":
        return ()
    return tuple(f for f in plan.members if get_family(f).input_kind == "tabular")


def fit_split(
    family: str,
    parts: Sequence[SymbolRows],
    split: Split,
    plan: TrainingPlan,
    spec: FeatureSpec,
) -> Forecaster:
    """One global model on the pooled train rows, early-stopping on the pooled test rows."""
    x_train, y_train = gather(parts, split.train)
    x_val, y_val = gather(parts, split.test)
    if len(x_train) < 100 or len(x_val) < PROBE_ROWS:
        raise ConfigError(
            f"expected at least 100 training and {PROBE_ROWS} validation rows over "
            f"{len(parts)} symbols, found {len(x_train)} and {len(x_val)}; give more candles"
        )
    model = build(family, plan.config_for(family, spec))
    kind = model.input_kind
    return model.fit(x_train.of_kind(kind), y_train, x_val.of_kind(kind), y_val)


def fit_all(
    parts: Sequence[SymbolRows],
    positions: Sequence[np.ndarray],
    plan: TrainingPlan,
    spec: FeatureSpec,
    trees: str,
) -> Fitted:
    """Every member on the given rows of each symbol; a symbol too short for its own trees gets
    none (its rows are left out of the out-of-fold forecasts)."""
    local = local_families(plan, trees)
    subset = [
        SymbolRows(p.symbol, take(p.inputs, pos), p.targets[pos], p.path, p.timeframe)
        for p, pos in zip(parts, positions, strict=True)
    ]
    inner = final_split(subset, plan.val_fraction, spec.horizon)
    shared = {f: fit_split(f, subset, inner, plan, spec) for f in plan.members if f not in local}
    own: dict[tuple[str, str], Forecaster] = {}
    floor = min_rows_to_fit(spec.horizon, plan.val_fraction)
    for part in subset:
        if len(part) < floor:
            continue
        for family in local:
            own[(family, part.symbol)] = fit_family(family, part.inputs, part.targets, plan, spec)
    return Fitted(shared, own)


def forecasts_of(
    fitted: Fitted, plan: TrainingPlan, part: SymbolRows, rows: np.ndarray
) -> dict[str, np.ndarray] | None:
    """Every member's forecasts ``(k, H)`` for some rows of a symbol; None without its trees."""
    if any((f, part.symbol) not in fitted.local and f not in fitted.shared for f in plan.members):
        return None
    inputs = take(part.inputs, rows)
    return {
        f: (m := fitted.model(f, part.symbol)).predict(inputs.of_kind(m.input_kind))
        for f in plan.members
    }


def pooled_out_of_fold(
    parts: Sequence[SymbolRows], plan: TrainingPlan, spec: FeatureSpec, trees: str
) -> list[OutOfFold | None]:
    """Per symbol: its out-of-fold forecasts from models fitted on all symbols' earlier rows."""
    min_train = min_rows_to_fit(spec.horizon, plan.val_fraction) + spec.horizon * len(parts)
    splits = time_folds(parts, plan.evaluation.inner_folds, spec.horizon, min_train)
    collected: list[list[tuple[np.ndarray, dict[str, np.ndarray]]]] = [[] for _ in parts]
    for split in splits:
        fitted = fit_all(parts, split.train, plan, spec, trees)
        for i, part in enumerate(parts):
            if len(split.test[i]) == 0:
                continue
            forecasts = forecasts_of(fitted, plan, part, split.test[i])
            if forecasts is not None:
                collected[i].append((split.test[i], forecasts))
    return [_out_of_fold(part, pieces) for part, pieces in zip(parts, collected, strict=True)]


def _out_of_fold(
    part: SymbolRows, pieces: list[tuple[np.ndarray, dict[str, np.ndarray]]]
) -> OutOfFold | None:
    if not pieces:
        return None
    rows = np.concatenate([rows for rows, _ in pieces])
    labels = np.concatenate([np.full(len(r), k) for k, (r, _) in enumerate(pieces)])
    forecasts = {f: np.concatenate([fc[f] for _, fc in pieces]) for f in pieces[0][1]}
    return OutOfFold(rows, labels, forecasts, part.targets[rows], len(pieces))


def symbol_evidence(part: SymbolRows, oof: OutOfFold | None, plan: TrainingPlan) -> Evidence:
    """The existing evaluation on one symbol's out-of-fold rows."""
    defaults: Defaults = {f: plan.ensemble.weights[f] for f in plan.members}
    if plan.weighting == "validation" and oof is not None:
        defaults = validation_weights  # from the rows each weight is fitted on only
    return evaluate(
        oof, part.inputs, part.targets, plan.evaluation, defaults, plan.ensemble.min_consensus
    )


def pooled_evidence(
    parts: Sequence[SymbolRows], oofs: Sequence[OutOfFold | None], plan: TrainingPlan
) -> Evidence:
    """The evaluation over every symbol's out-of-fold rows at once (the release's summary)."""
    kept = [(p, o) for p, o in zip(parts, oofs, strict=True) if o is not None]
    all_inputs = concat([p.inputs for p in parts])
    all_targets = np.concatenate([p.targets for p in parts])
    if not kept:
        return symbol_evidence(SymbolRows("*", all_inputs, all_targets), None, plan)
    offsets = dict(zip([p.symbol for p in parts], np.cumsum([0, *map(len, parts)]), strict=False))
    oof = OutOfFold(
        rows=np.concatenate([o.rows + offsets[p.symbol] for p, o in kept]),
        segments=np.concatenate([o.segments for _, o in kept]),
        forecasts={f: np.concatenate([o.forecasts[f] for _, o in kept]) for f in plan.members},
        actual=np.concatenate([o.actual for _, o in kept]),
        folds=max(o.folds for _, o in kept),
    )
    return symbol_evidence(SymbolRows("*", all_inputs, all_targets), oof, plan)


def train_pooled(
    parts: Sequence[SymbolRows],
    registry: Registry,
    plan: TrainingPlan,
    model_set: str,
    timeframe: str | None,
    trees: str = "pooled",
    promote_to: str | None = None,
    spec: FeatureSpec = CURRENT_SPEC,
) -> MultiReport:
    """Fit, evaluate per series, publish one release covering every series of ``parts``.

    A part without its own ``timeframe`` is at ``timeframe``. Parts of several timeframes make
    a release with ``series``; within it each series is named ``SYMBOL@TF``.
    """
    from ai_engine.models.torch_utils import torch_threads

    parts, names = _named(parts, timeframe)
    timeframes = sorted({p.timeframe for p in parts})
    if len(timeframes) > 1:
        timeframes.sort(key=_timeframe_order)
    with torch_threads(plan.threads):
        oofs = pooled_out_of_fold(parts, plan, spec, trees)
        split = final_split(parts, plan.val_fraction, spec.horizon)
        fitted = fit_all(parts, split.train, plan, spec, trees)
    evidence = {p.symbol: symbol_evidence(p, o, plan) for p, o in zip(parts, oofs, strict=True)}
    summary = pooled_evidence(parts, oofs, plan)
    per_symbol, pooled_rows = _per_symbol(parts, split, fitted, plan, evidence, oofs)
    metrics = _pooled_metrics(pooled_rows, plan)
    summary_ = {k: {"mae": v["mae"], "hit_rate": v["hit_rate"]} for k, v in metrics.items()}
    version = f"v{utc_stamp()}"
    created_at = datetime.now(UTC).isoformat()
    symbols = sorted(set(names.values()))
    series = [p.symbol for p in parts] if len(timeframes) > 1 else []
    timeframe_label = ",".join(timeframes)
    data = {
        "symbols": symbols,
        "timeframe": timeframe_label,
        **({"series": series} if series else {}),
        "start": str(min(p.inputs.timestamps[0] for p in parts)),
        "end": str(max(p.inputs.timestamps[-1] for p in parts)),
        "rows": sum(map(len, parts)),
        "val_fraction": plan.val_fraction,
        "preset": plan.preset,
        "trees": trees,
    }
    jobs: list[tuple[str, str | None, Forecaster, np.ndarray]] = []
    for family, model in fitted.shared.items():
        x_val, _ = gather(parts, split.test)
        jobs.append((family, None, model, _probe(x_val.of_kind(model.input_kind))))
    for (family, owner), model in sorted(fitted.local.items()):
        part = next(p for p in parts if p.symbol == owner)
        rows = split.test[parts.index(part)]
        jobs.append((family, owner, model, _probe(take(part.inputs, rows).of_kind("tabular"))))
    staged = []
    try:
        for family, symbol, model, probe in jobs:
            info = BundleInfo(
                version,
                model_set,
                created_at,
                _bundle_data(data, symbol, names),
                _bundle_metrics(metrics, per_symbol, family, symbol),
            )
            name = version if symbol is None else f"{version}-{safe_name(symbol)}"
            write = partial(_save, model, info=info, probe=probe, spec=spec)
            staged.append(registry.stage_bundle(model_set, family, name, write))

        def make_release(members: list[ReleaseMember], release_id: str) -> Release:
            owned = [
                m.model_copy(update={"symbol": symbol, "plugin": descriptor(m.family).plugin})
                for m, (_, symbol, _, _) in zip(members, jobs, strict=True)
            ]
            return Release(
                id=release_id,
                created_at=created_at,
                model_set=model_set,
                feature_fingerprint=spec.fingerprint(),
                members=owned,
                series=_series(per_symbol, [m.symbol for m in owned], timeframes),
                ensemble=plan.ensemble.with_evidence(summary).to_json(),
                evaluation=summary.to_json(),
                metrics=summary_,
            )

        release = registry.publish(staged, make_release, promote_to)
    except BaseException:
        registry.discard(staged)
        raise
    return MultiReport(release, metrics, per_symbol)


def _named(
    parts: Sequence[SymbolRows], timeframe: str | None
) -> tuple[list[SymbolRows], dict[str, str]]:
    """Parts sorted, each with its timeframe, named by symbol (one timeframe) or ``SYMBOL@TF``
    (several); the symbol of each name. Two parts of one series are a ConfigError."""
    placed = []
    for part in parts:
        if not (part.timeframe or timeframe):
            raise ConfigError(f"{part.path or part.symbol}: expected a timeframe, found none")
        placed.append(dataclasses.replace(part, timeframe=part.timeframe or str(timeframe)))
    keys = [(p.symbol, p.timeframe) for p in placed]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"expected distinct symbols and timeframes, found {sorted(keys)}")
    if len({p.timeframe for p in placed}) == 1:
        return sorted(placed, key=lambda p: p.symbol), {p.symbol: p.symbol for p in placed}
    if bad := sorted(p.symbol for p in placed if SERIES_SEP in p.symbol):
        raise ConfigError(
            f"expected symbols without {SERIES_SEP!r} in a release of several timeframes "
            f"(series are named SYMBOL{SERIES_SEP}TF), found {bad}"
        )
    ordered = sorted(placed, key=lambda p: (p.symbol, _timeframe_order(p.timeframe)))
    named = [dataclasses.replace(p, symbol=series_key(p.symbol, p.timeframe)) for p in ordered]
    return named, {n.symbol: p.symbol for n, p in zip(named, ordered, strict=True)}


def _series(
    records: dict[str, dict[str, Any]], owners: list[str | None], timeframes: list[str]
) -> list[Series]:
    """The release's series from each part's record (keyed ``SYMBOL``, or ``SYMBOL@TF`` with
    several timeframes) and each member's owner (None: shared), in the parts' order."""
    out = []
    for key, record in records.items():
        symbol, timeframe = split_key(key) if len(timeframes) > 1 else (key, timeframes[0])
        owned = [i for i, owner in enumerate(owners) if owner in (None, key)]
        out.append(Series(symbol=symbol, timeframe=timeframe, members=owned, **record))
    return out


def _timeframe_order(timeframe: str) -> float:
    return timeframe_delta(timeframe).total_seconds()


def _bundle_data(data: dict[str, Any], name: str | None, names: dict[str, str]) -> dict[str, Any]:
    """A bundle's training data record: the release's, or one series' for a per-series tree."""
    if name is None:
        return data
    one = {k: v for k, v in data.items() if k != "series"}
    one["symbols"] = [names[name]]
    if SERIES_SEP in name and "series" in data:
        one |= {"series": [name], "timeframe": name.rpartition(SERIES_SEP)[2]}
    return one


def _bundle_metrics(
    metrics: dict[str, Any], per_symbol: dict[str, Any], family: str, symbol: str | None
) -> dict[str, Any]:
    """A bundle's validation metrics: pooled for a global model, its symbol's otherwise."""
    if symbol is None:
        return dict(metrics.get(family, {}))
    return dict(per_symbol[symbol]["metrics"].get(family, {}))


def _probe(x: np.ndarray) -> np.ndarray:
    return x[np.linspace(0, len(x) - 1, min(PROBE_ROWS, len(x))).astype(int)]


def _save(
    model: Forecaster, folder: Any, *, info: BundleInfo, probe: np.ndarray, spec: FeatureSpec
) -> None:
    save_bundle(model, folder, info, probe, spec)


def _per_symbol(
    parts: Sequence[SymbolRows],
    split: Split,
    fitted: Fitted,
    plan: TrainingPlan,
    evidence: dict[str, Evidence],
    oofs: Sequence[OutOfFold | None],
) -> tuple[dict[str, dict[str, Any]], list[tuple[dict[str, np.ndarray], np.ndarray, int]]]:
    """Each symbol's record (evidence, ensemble, validation metrics) and its validation rows."""
    out: dict[str, dict[str, Any]] = {}
    pooled: list[tuple[dict[str, np.ndarray], np.ndarray, int]] = []
    for i, part in enumerate(parts):
        ev = evidence[part.symbol]
        ensemble = plan.ensemble.with_evidence(ev)
        rows = split.test[i]
        forecasts = forecasts_of(fitted, plan, part, rows) if len(rows) else None
        record: dict[str, Any] = {
            "evaluation": ev.to_json(),
            "ensemble": ensemble.to_json(),
            "rows": len(part),
            "oof_rows": 0 if oofs[i] is None else len(oofs[i].rows),  # type: ignore[union-attr]
            "source": None if part.path is None else part.path.name,
            "metrics": {},
        }
        if forecasts is not None:
            actual = part.targets[rows]
            horizon = ensemble.decision_horizon
            metrics = {f: forecast_metrics(v, actual, horizon) for f, v in forecasts.items()}
            combined = ev.combined(forecasts)
            metrics["ensemble"] = forecast_metrics(combined, actual, horizon)
            metrics["zero_forecast"] = forecast_metrics(np.zeros_like(actual), actual, horizon)
            record["metrics"] = {
                k: {"mae": v["mae"], "hit_rate": v["hit_rate"], "rows": len(rows)}
                for k, v in metrics.items()
            }
            pooled.append(({**forecasts, "ensemble": combined}, actual, horizon))
        out[part.symbol] = record
    return out, pooled


def _pooled_metrics(
    rows: list[tuple[dict[str, np.ndarray], np.ndarray, int]], plan: TrainingPlan
) -> dict[str, dict[str, Any]]:
    """Validation metrics over every symbol's validation rows together."""
    if not rows:
        return {}
    actual = np.concatenate([a for _, a, _ in rows])
    horizon = plan.ensemble.decision_horizon
    names = [*plan.members, "ensemble"]
    metrics = {
        n: forecast_metrics(np.concatenate([f[n] for f, _, _ in rows]), actual, horizon)
        for n in names
    }
    metrics["zero_forecast"] = forecast_metrics(np.zeros_like(actual), actual, horizon)
    return metrics

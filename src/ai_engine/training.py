"""The training pipeline: candles -> features -> fit four members -> evaluate -> bundles -> release.

``fit_members`` is pure (no registry) so that the backtest reuses it fold by fold; ``train``
adds the bundles and the release, and publishes nothing when any step fails.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ai_engine.bundle import BundleInfo, save_bundle
from ai_engine.data import Candles
from ai_engine.ensemble import EnsembleSettings, weights_from_validation_error
from ai_engine.errors import ConfigError
from ai_engine.evaluation import Costs, EvaluationSettings, Evidence, evaluate, out_of_fold
from ai_engine.evaluation.combination import Defaults
from ai_engine.features import CURRENT_SPEC, FeatureSpec, ModelInputs, training_data
from ai_engine.models.base import Forecaster, build, get_family
from ai_engine.models.family import (
    default_members,
    default_weights,
    descriptor,
    families,
    import_plugin,
)
from ai_engine.registry import Registry, Release, ReleaseMember, utc_stamp
from ai_engine.release_format import Series

Progress = Callable[[str, str], None]
"""Called as ``progress(family, event)`` with event ``"start"`` or ``"done"``."""

PROBE_ROWS = 8


@dataclass(frozen=True)
class TrainingPlan:
    """What to train: members, per-family config overrides, ensemble settings, validation split.

    ``plugins`` (``.py`` paths or dotted modules) are imported first; they register families
    that ``members`` may then name. Ensemble weights left at their default follow the members
    (each family's ``default_weight``); weights given must name exactly the members.
    """

    preset: str = "default"
    members: tuple[str, ...] = field(default_factory=default_members)
    plugins: tuple[str, ...] = ()
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    ensemble: EnsembleSettings = field(default_factory=EnsembleSettings)
    weighting: Literal["fixed", "validation"] = "fixed"
    val_fraction: float = 0.2
    seed: int = 0
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    """Inner folds, combination, costs and tests behind the edge verdict (evaluation/)."""
    threads: int = 1
    """Torch intra-op threads while fitting. 1 by default: these networks are small, and on a
    shared 2-core machine two spinning threads made PatchTST's fit 6x slower (RESULTS.md)."""

    def __post_init__(self) -> None:
        if not 0.05 <= self.val_fraction <= 0.5:
            raise ConfigError(f"val_fraction must be within [0.05, 0.5], found {self.val_fraction}")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, found {self.threads}")
        if self.weighting not in ("fixed", "validation"):
            raise ConfigError(
                f"weighting must be 'fixed' or 'validation', found {self.weighting!r}"
            )
        for plugin in self.plugins:
            import_plugin(plugin)
        self._check_members()
        for family in self.families:
            get_family(family)
            if family not in self.members:
                raise ConfigError(
                    f"family {family!r} is not a member of this plan; expected one of "
                    f"{list(self.members)}"
                )

    def _check_members(self) -> None:
        """Members known and distinct, the preset declared by each, weights covering them."""
        members = tuple(self.members)
        if not members or len(set(members)) != len(members):
            raise ConfigError(f"members must be distinct family names, found {list(members)}")
        object.__setattr__(self, "members", members)
        for family in members:
            if not descriptor(family).trainable:
                raise ConfigError(
                    f"family {family!r} is imported (ai-engine import-legacy), never trained; "
                    f"expected members among {[d.name for d in families() if d.trainable]}"
                )
        common = set.intersection(*(set(descriptor(f).presets) for f in members))
        if self.preset not in common:
            raise ConfigError(
                f"unknown preset {self.preset!r}; expected one of {sorted(common)} (the presets "
                f"every member declares)"
            )
        weights = self.ensemble.weights
        if set(weights) != set(members) and weights == default_weights():
            weights = default_weights(members)
            ensemble = dataclasses.replace(self.ensemble, weights=weights)
            object.__setattr__(self, "ensemble", ensemble)
        if set(weights) != set(members):
            raise ConfigError(
                f"ensemble weights must name exactly the members {sorted(members)}, found "
                f"{sorted(weights)}"
            )

    def config_for(self, family: str, spec: FeatureSpec) -> dict[str, Any]:
        """The family's config: defaults, shaped for ``spec``, then preset, then file overrides."""
        defaults = get_family(family).config_class().to_dict()
        shaped = {"horizon": spec.horizon, "seed": self.seed}
        for key, value in (
            ("n_features", spec.n_features),
            ("lookback", spec.lookback),
            ("channels", len(spec.channels)),
        ):
            if key in defaults:
                shaped[key] = value
        return {
            **defaults,
            **shaped,
            **descriptor(family).presets[self.preset],
            **self.families.get(family, {}),
        }


def make_plan(
    preset: str = "default",
    config_file: str | Path | None = None,
    plugins: Sequence[str] = (),
    members: Sequence[str] | None = None,
) -> TrainingPlan:
    """A plan from a preset name, an optional JSON or TOML file of overrides, plugins, members.

    File keys: ``families`` ({family: {hyperparameter: value}}), ``ensemble``, ``weighting``,
    ``val_fraction``, ``seed``, ``threads``, ``plugins`` (added to ``plugins``) and ``members``
    (``members`` given here wins).
    """
    data = _read_config_file(Path(config_file)) if config_file else {}
    known = {
        "families",
        "ensemble",
        "weighting",
        "val_fraction",
        "seed",
        "threads",
        "plugins",
        "members",
        "evaluation",
        "combination",
    }
    if unknown := sorted(set(data) - known):
        raise ConfigError(
            f"{config_file}: unknown key(s) {unknown}; expected some of {sorted(known)}"
        )
    all_plugins = [*_names(data, "plugins", config_file), *plugins]
    for plugin in all_plugins:  # before the ensemble: its default weights need the members
        import_plugin(plugin)
    chosen = tuple(members or _names(data, "members", config_file) or default_members())
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"members must be distinct family names, found {list(chosen)}")
    ensemble_data = data.get("ensemble", {})
    if isinstance(ensemble_data, dict) and "weights" not in ensemble_data:
        ensemble_data = {**ensemble_data, "weights": default_weights(chosen)}
    ensemble = EnsembleSettings.from_json(ensemble_data)
    families = data.get("families", {})
    if not isinstance(families, dict):
        raise ConfigError(f"{config_file}: 'families' must be a table of family -> overrides")
    plan = TrainingPlan(
        preset=preset,
        members=chosen,
        plugins=tuple(dict.fromkeys(all_plugins)),
        families=families,
        ensemble=ensemble,
        evaluation=evaluation_settings(data, config_file),
        **{k: data[k] for k in ("weighting", "val_fraction", "seed", "threads") if k in data},
    )
    for family in plan.members:  # validate every override against the family's Config now
        get_family(family).config_class.from_dict(plan.config_for(family, CURRENT_SPEC))
    return plan


def evaluation_settings(data: dict[str, Any], source: str | Path | None) -> EvaluationSettings:
    """The ``[evaluation]`` table (and a top-level ``combination``) as settings; ``fee`` and
    ``slippage`` become the release's costs."""
    table = data.get("evaluation", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: 'evaluation' must be a table, found {type(table).__name__}")
    values = {**table, **({"combination": data["combination"]} if "combination" in data else {})}
    known = {f.name for f in dataclasses.fields(EvaluationSettings)} - {"costs"}
    if unknown := sorted(set(values) - known - {"fee", "slippage"}):
        raise ConfigError(
            f"{source}: unknown evaluation setting(s) {unknown}; expected some of "
            f"{sorted(known | {'fee', 'slippage'})}"
        )
    default = Costs()
    costs = Costs(
        float(values.pop("fee", default.fee)), float(values.pop("slippage", default.slippage))
    )
    if "margins" in values:
        values["margins"] = tuple(values["margins"])
    try:
        return EvaluationSettings(costs=costs, **values)
    except TypeError as exc:
        raise ConfigError(f"{source}: evaluation settings: {exc}") from exc


def _names(data: dict[str, Any], key: str, source: str | Path | None) -> list[str]:
    """A list of names from the config file (``plugins``, ``members``); [] when absent."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{source}: {key!r} must be a list of names, found {value!r}")
    return value


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(path.read_text())
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a table/object, found {type(data).__name__}"
        )
    return data


def time_split(n_rows: int, val_fraction: float, gap: int) -> tuple[slice, slice]:
    """Train rows first, then ``gap`` purged rows, then validation rows (time order kept)."""
    n_val = int(n_rows * val_fraction)
    n_train = n_rows - n_val - gap
    if n_val < PROBE_ROWS or n_train < 100:
        raise ConfigError(
            f"expected at least 100 training and {PROBE_ROWS} validation rows, found {n_train} and "
            f"{n_val} (from {n_rows} usable bars); give more candles"
        )
    return slice(0, n_train), slice(n_rows - n_val, n_rows)


def forecast_metrics(
    forecast: np.ndarray, actual: np.ndarray, decision_horizon: int
) -> dict[str, Any]:
    """MAE/RMSE over all horizons and per horizon, directional hit rate at the decision horizon:
    the share of rows with a nonzero forecast and outcome whose signs match; None where the
    forecast is 0 on every row (the zero forecast, or a combination without an edge: no
    direction to score)."""
    error = forecast - actual
    step = decision_horizon - 1
    directed = (forecast[:, step] != 0) & (actual[:, step] != 0)
    hits = np.sign(forecast[directed, step]) == np.sign(actual[directed, step])
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae_by_horizon": [float(v) for v in np.mean(np.abs(error), axis=0)],
        "hit_rate": float(np.mean(hits)) if directed.any() else None,
    }


@dataclass
class FittedMembers:
    """Four fitted members with validation metrics and the ensemble settings to use."""

    models: dict[str, Forecaster]
    metrics: dict[str, dict[str, Any]]
    ensemble: EnsembleSettings
    probe_inputs: dict[str, np.ndarray]
    evidence: Evidence


def fit_members(
    inputs: ModelInputs,
    targets: np.ndarray,
    plan: TrainingPlan,
    spec: FeatureSpec = CURRENT_SPEC,
    progress: Progress | None = None,
) -> FittedMembers:
    """Fit every member on the train part, evaluate on validation, derive weights if asked."""
    from ai_engine.models.torch_utils import torch_threads

    with torch_threads(plan.threads):
        evidence = out_of_fold_evidence(inputs, targets, plan, spec)
    train, val = time_split(len(inputs), plan.val_fraction, gap=spec.horizon)
    models: dict[str, Forecaster] = {}
    forecasts: dict[str, np.ndarray] = {}
    probe_rows = np.linspace(val.start, val.stop - 1, PROBE_ROWS).astype(int)
    with torch_threads(plan.threads):
        for family in plan.members:
            if progress:
                progress(family, "start")
            model = build(family, plan.config_for(family, spec))
            x = inputs.of_kind(model.input_kind)
            model.fit(x[train], targets[train], x[val], targets[val])
            models[family] = model
            forecasts[family] = model.predict(x[val])
            if progress:
                progress(family, "done")
    actual = targets[val]
    ensemble = plan.ensemble.with_evidence(evidence)
    horizon = ensemble.decision_horizon
    metrics = {f: forecast_metrics(p, actual, horizon) for f, p in forecasts.items()}
    metrics["ensemble"] = forecast_metrics(evidence.combined(forecasts), actual, horizon)
    metrics["zero_forecast"] = forecast_metrics(np.zeros_like(actual), actual, horizon)
    for family, model in models.items():
        metrics[family]["fit"] = model.fit_info_
    probes = {f: inputs.of_kind(m.input_kind)[probe_rows] for f, m in models.items()}
    return FittedMembers(models, metrics, ensemble, probes, evidence)


def min_rows_to_fit(horizon: int, val_fraction: float) -> int:
    """The fewest rows ``fit_members`` accepts: its own ``time_split`` must succeed."""
    for n in range(1, 100_000):
        try:
            time_split(n, val_fraction, horizon)
        except ConfigError:
            continue
        return n
    raise ConfigError(f"no training size satisfies val_fraction {val_fraction}")


def fit_family(
    family: str, inputs: ModelInputs, targets: np.ndarray, plan: TrainingPlan, spec: FeatureSpec
) -> Forecaster:
    """One member fitted on ``inputs`` / ``targets`` ``(n, H)``, early-stopping on the last
    ``val_fraction`` of them (after a purge of H rows)."""
    train, val = time_split(len(inputs), plan.val_fraction, gap=spec.horizon)
    model = build(family, plan.config_for(family, spec))
    x = inputs.of_kind(model.input_kind)
    return model.fit(x[train], targets[train], x[val], targets[val])


def out_of_fold_evidence(
    inputs: ModelInputs, targets: np.ndarray, plan: TrainingPlan, spec: FeatureSpec
) -> Evidence:
    """Inner walk-forward over the training rows, then the edge verdict on its forecasts."""
    members = plan.members

    def fit_predict(
        train: ModelInputs, train_targets: np.ndarray, test: ModelInputs
    ) -> dict[str, np.ndarray]:
        fitted = {f: fit_family(f, train, train_targets, plan, spec) for f in members}
        return {f: m.predict(test.of_kind(m.input_kind)) for f, m in fitted.items()}

    min_train = min_rows_to_fit(spec.horizon, plan.val_fraction)
    oof = out_of_fold(inputs, targets, plan.evaluation.inner_folds, min_train, fit_predict)
    defaults: Defaults = {f: plan.ensemble.weights[f] for f in members}
    if plan.weighting == "validation" and oof is not None:
        defaults = validation_weights  # from the rows each weight is fitted on, never later ones
    return evaluate(oof, inputs, targets, plan.evaluation, defaults, plan.ensemble.min_consensus)


def validation_weights(forecasts: Mapping[str, np.ndarray], actual: np.ndarray) -> dict[str, float]:
    """Inverse mean-absolute-error weights of out-of-fold ``forecasts`` ``{member: (n, H)}``."""
    errors = {f: float(np.mean(np.abs(v - actual))) for f, v in forecasts.items()}
    return weights_from_validation_error(errors)


def _save_into(
    model: Forecaster, folder: Path, *, info: BundleInfo, probe: np.ndarray, spec: FeatureSpec
) -> None:
    save_bundle(model, folder, info, probe, spec)


@dataclass(frozen=True)
class TrainingReport:
    release: Release
    metrics: dict[str, dict[str, Any]]
    promoted_to: str | None


def train(
    candles: Candles,
    registry: Registry,
    plan: TrainingPlan,
    promote_to: str | None = None,
    progress: Progress | None = None,
    spec: FeatureSpec = CURRENT_SPEC,
) -> TrainingReport:
    """Train all four members on ``candles`` and publish their bundles and one release."""
    inputs, targets = training_data(candles.frame, spec)
    fitted = fit_members(inputs, targets, plan, spec, progress)
    model_set = f"{candles.symbol}-{candles.timeframe}"
    version = f"v{utc_stamp()}"
    created_at = datetime.now(UTC).isoformat()
    data_range = {
        "symbols": [candles.symbol],
        "timeframe": candles.timeframe,
        "start": str(candles.frame.index[0]),
        "end": str(candles.frame.index[-1]),
        "rows": len(inputs),
        "val_fraction": plan.val_fraction,
        "preset": plan.preset,
    }
    staged = []
    try:
        for family, model in fitted.models.items():
            info = BundleInfo(version, model_set, created_at, data_range, fitted.metrics[family])
            write = partial(
                _save_into, model, info=info, probe=fitted.probe_inputs[family], spec=spec
            )
            staged.append(registry.stage_bundle(model_set, family, version, write))

        def make_release(members: list[ReleaseMember], release_id: str) -> Release:
            ensemble, evaluation = fitted.ensemble.to_json(), fitted.evidence.to_json()
            metrics = {
                k: {"mae": v["mae"], "hit_rate": v["hit_rate"]} for k, v in fitted.metrics.items()
            }
            one = Series(
                symbol=candles.symbol,
                timeframe=candles.timeframe,
                members=list(range(len(members))),
                evaluation=evaluation,
                ensemble=ensemble,
                metrics=metrics,
            )
            return Release(
                id=release_id,
                created_at=created_at,
                model_set=model_set,
                feature_fingerprint=spec.fingerprint(),
                members=[m.model_copy(update={"plugin": _plugin_of(m.family)}) for m in members],
                series=[one],
                any_symbol=True,  # a release of one symbol answers any symbol of its timeframe
                ensemble=ensemble,
                evaluation=evaluation,
                metrics=metrics,
            )

        release = registry.publish(staged, make_release, promote_to)
    except BaseException:
        registry.discard(staged)
        raise
    return TrainingReport(release, fitted.metrics, promote_to)


def _plugin_of(family: str) -> str | None:
    """The plugin a release records for a member (None: a built-in family)."""
    return descriptor(family).plugin

"""Importing pickled XGBoost / LightGBM models: unpickled only with ``trust_pickle``.

The unpickled booster (or sklearn wrapper) is wrapped in this engine's forecaster and written
in its native, pickle-free format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_engine.errors import LegacyImportError
from ai_engine.legacy_import.publish import check_outputs, probe_inputs, provenance, publish
from ai_engine.legacy_import.reading import pickle_globals, unpickle_trusted
from ai_engine.legacy_import.report import ImportResult
from ai_engine.legacy_import.scalers import resolve_scaler
from ai_engine.legacy_import.spec import legacy_spec
from ai_engine.models.base import Forecaster
from ai_engine.registry import Registry


def import_pickled_trees(
    path: Path, registry: Registry, trust_pickle: bool, given: Path | None, no_scaler: bool
) -> ImportResult:
    if not path.is_file():
        raise LegacyImportError(f"{path}: no such file")
    if not trust_pickle:
        raise LegacyImportError(
            f"{path}: a pickle; refusing to unpickle it without --trust-pickle (unpickling runs "
            f"code: trust only files you made); it would import {pickle_globals(path) or 'nothing'}"
        )
    obj = unpickle_trusted(path)
    model, names = _tree_model(obj, path)
    width = model.input_shape[0]
    model.scaler_, scaler_source = resolve_scaler(path, given, no_scaler, trust_pickle, width)
    probe = probe_inputs(model.scaler_)
    check_outputs(model, probe, path)
    layout = f"pickled {type(obj).__module__}.{type(obj).__qualname__}"
    spec = legacy_spec(names, model.horizon)
    bundle = publish(registry, model, spec, provenance(path, layout, scaler_source), probe)
    return ImportResult(
        bundle,
        model.family,
        bundle.name,
        model.parameter_count(),
        scaler_source,
        (f"converted from {layout} to the native format",),
    )


def _tree_model(obj: Any, path: Path) -> tuple[Forecaster, list[str]]:
    """An XGBoost or LightGBM forecaster around an unpickled booster (or sklearn wrapper)."""
    import lightgbm as lgb
    import xgboost as xgb

    from ai_engine.models.lightgbm import LightGBMConfig, LightGBMForecaster
    from ai_engine.models.xgboost import XGBoostConfig, XGBoostForecaster

    if hasattr(obj, "get_booster"):
        obj = obj.get_booster()
    elif hasattr(obj, "booster_"):
        obj = obj.booster_
    if isinstance(obj, xgb.Booster):
        learner = json.loads(obj.save_config())["learner"]["learner_model_param"]
        outputs = max(int(learner.get("num_target", 1)), 1)
        booster_model = XGBoostForecaster(
            XGBoostConfig(n_features=obj.num_features(), horizon=outputs)
        )
        booster_model.booster_ = obj
        model: Forecaster = booster_model
        names = list(obj.feature_names or [])
    elif isinstance(obj, lgb.Booster):
        if obj.num_model_per_iteration() != 1:
            raise LegacyImportError(
                f"{path}: expected a single-output LightGBM regressor, found "
                f"{obj.num_model_per_iteration()} models per iteration"
            )
        boosters_model = LightGBMForecaster(LightGBMConfig(n_features=obj.num_feature(), horizon=1))
        boosters_model.boosters_ = [obj]
        model = boosters_model
        names = list(obj.feature_name())
    else:
        raise LegacyImportError(
            f"{path}: expected a pickled XGBoost or LightGBM model, found "
            f"{type(obj).__module__}.{type(obj).__qualname__}"
        )
    width = model.input_shape[0]
    if len(names) != width:
        names = [f"raw_{i}" for i in range(width)]
    return model, names

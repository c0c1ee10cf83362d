"""XGBoost family: one multi-output booster over the tabular features, all horizons at once.

Inputs ``(n, n_features)``; forecasts ``(n, horizon)``. The booster is stored in XGBoost's
native UBJSON format (``model.ubj``), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from ai_engine.errors import BundleError, WeightsMismatchError
from ai_engine.models.base import FamilyDescriptor, Forecaster, ForecasterConfig, register

WEIGHTS_FILE = "model.ubj"


@dataclass(frozen=True)
class XGBoostConfig(ForecasterConfig):
    """Hyperparameters of the booster and of its early-stopped training."""

    n_features: int = 22
    max_rounds: int = 600
    learning_rate: float = 0.03
    max_depth: int = 4
    min_child_weight: float = 20.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 50
    n_threads: int = 1


class XGBoostForecaster(Forecaster):
    """Boosted trees, one output per horizon (``multi_strategy=one_output_per_tree``)."""

    family = "xgboost"
    input_kind = "tabular"
    config_class = XGBoostConfig
    config: XGBoostConfig

    def __init__(self, config: XGBoostConfig) -> None:
        super().__init__(config)
        self.booster_: xgb.Booster | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.n_features,)

    def _params(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "objective": "reg:squarederror",
            "tree_method": "hist",
            "multi_strategy": "one_output_per_tree",
            "eta": cfg.learning_rate,
            "max_depth": cfg.max_depth,
            "min_child_weight": cfg.min_child_weight,
            "subsample": cfg.subsample,
            "colsample_bytree": cfg.colsample_bytree,
            "lambda": cfg.reg_lambda,
            "seed": cfg.seed,
            "nthread": cfg.n_threads,
        }

    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        train, val = xgb.DMatrix(x, label=y), xgb.DMatrix(x_val, label=y_val)
        self.booster_ = xgb.train(
            self._params(),
            train,
            num_boost_round=self.config.max_rounds,
            evals=[(val, "validation")],
            early_stopping_rounds=self.config.early_stopping_rounds,
            verbose_eval=False,
        )
        best = self.booster_.best_iteration
        self.booster_ = self.booster_[: best + 1]
        self.fit_info_ = {"rounds": best + 1}

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self.booster_ is None:
            raise BundleError(
                f"{self.family}: predict expects a fitted model (call fit or load_weights first), "
                "found none"
            )
        out = self.booster_.inplace_predict(x)
        return np.asarray(out).reshape(len(x), self.horizon)

    def save_weights(self, folder: Path) -> None:
        if self.booster_ is None:
            raise BundleError(
                f"{self.family}: save_weights expects a fitted model (call fit first), found none"
            )
        self.booster_.save_model(folder / WEIGHTS_FILE)

    def load_weights(self, folder: Path) -> None:
        booster = xgb.Booster()
        try:
            booster.load_model(folder / WEIGHTS_FILE)
        except xgb.core.XGBoostError as exc:
            raise WeightsMismatchError(
                f"{WEIGHTS_FILE} is not a valid XGBoost model: {exc}"
            ) from exc
        learner = json.loads(booster.save_config())["learner"]["learner_model_param"]
        found = (booster.num_features(), int(learner["num_target"]))
        expected = (self.config.n_features, self.horizon)
        if found != expected:
            raise WeightsMismatchError(
                f"xgboost weights expect (features, outputs) = {expected} from config "
                f"{self.config.to_dict()}, found {found}"
            )
        booster.set_param({"nthread": self.config.n_threads})
        self.booster_ = booster

    def parameter_count(self) -> int:
        if self.booster_ is None:
            return 0
        return int(sum(len(tree.splitlines()) for tree in self.booster_.get_dump()))


DESCRIPTOR = register(
    FamilyDescriptor(
        model_class=XGBoostForecaster,
        weights_files=(WEIGHTS_FILE,),
        default_weight=0.30,
        presets={
            "quick": {"max_rounds": 150, "early_stopping_rounds": 20},
            "default": {},
            "tiny": {"max_rounds": 30, "early_stopping_rounds": 20},
        },
        member=True,
        libraries=("xgboost",),
    )
)

"""LightGBM family: one booster per horizon over the tabular features.

Inputs ``(n, n_features)``; forecasts ``(n, horizon)``. Boosters are stored in LightGBM's
native text format, one file per horizon step (``model_h01.txt`` ... ``model_h12.txt`` for
horizon 12; the descriptor derives the list from the config).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from ai_engine.errors import BundleError, WeightsMismatchError
from ai_engine.models.base import FamilyDescriptor, Forecaster, ForecasterConfig, register


def weights_file(step: int) -> str:
    """File name of the booster for horizon ``step`` (1-based)."""
    return f"model_h{step:02d}.txt"


def weights_files(config: LightGBMConfig) -> tuple[str, ...]:
    """One booster file per horizon step: ``model_h01.txt`` .. ``model_h{horizon}.txt``."""
    return tuple(weights_file(h) for h in range(1, config.horizon + 1))


@dataclass(frozen=True)
class LightGBMConfig(ForecasterConfig):
    """Hyperparameters of each booster and of its early-stopped training."""

    n_features: int = 22
    max_rounds: int = 600
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 50
    n_threads: int = 1


class LightGBMForecaster(Forecaster):
    """Gradient-boosted trees (leaf-wise), one early-stopped booster per horizon."""

    family = "lightgbm"
    input_kind = "tabular"
    config_class = LightGBMConfig
    config: LightGBMConfig

    def __init__(self, config: LightGBMConfig) -> None:
        super().__init__(config)
        self.boosters_: list[lgb.Booster] = []

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.n_features,)

    def _params(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "objective": "regression",
            "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves,
            "min_data_in_leaf": cfg.min_data_in_leaf,
            "feature_fraction": cfg.feature_fraction,
            "bagging_fraction": cfg.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": cfg.lambda_l2,
            "seed": cfg.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": cfg.n_threads,
            "verbosity": -1,
        }

    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        stop = lgb.early_stopping(self.config.early_stopping_rounds, verbose=False)
        self.boosters_ = []
        for step in range(self.horizon):
            train = lgb.Dataset(x, label=np.ascontiguousarray(y[:, step]), free_raw_data=False)
            val = lgb.Dataset(x_val, label=np.ascontiguousarray(y_val[:, step]), reference=train)
            booster = lgb.train(
                self._params(), train, self.config.max_rounds, valid_sets=[val], callbacks=[stop]
            )
            booster.free_dataset()
            self.boosters_.append(booster)
        self.fit_info_ = {"rounds": [b.best_iteration for b in self.boosters_]}

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if not self.boosters_:
            raise BundleError(
                f"{self.family}: predict expects a fitted model (call fit or load_weights first), "
                "found none"
            )
        threads = self.config.n_threads
        return np.column_stack(
            [
                b.predict(x, num_iteration=b.best_iteration or None, num_threads=threads)
                for b in self.boosters_
            ]
        )

    def save_weights(self, folder: Path) -> None:
        if not self.boosters_:
            raise BundleError(
                f"{self.family}: save_weights expects a fitted model (call fit first), found none"
            )
        for step, booster in enumerate(self.boosters_, start=1):
            booster.save_model(folder / weights_file(step), num_iteration=booster.best_iteration)

    def load_weights(self, folder: Path) -> None:
        boosters = []
        for step in range(1, self.horizon + 1):
            path = folder / weights_file(step)
            if not path.is_file():
                raise WeightsMismatchError(
                    f"lightgbm expects {self.horizon} boosters from config {self.config.to_dict()},"
                    f" missing {path.name}"
                )
            try:
                booster = lgb.Booster(model_file=str(path))
            except lgb.basic.LightGBMError as exc:
                raise WeightsMismatchError(f"{path.name} is not a LightGBM model: {exc}") from exc
            if booster.num_feature() != self.config.n_features:
                raise WeightsMismatchError(
                    f"{path.name} expects {booster.num_feature()} features, config "
                    f"{self.config.to_dict()} has n_features={self.config.n_features}"
                )
            boosters.append(booster)
        extra = sorted(
            p.name
            for p in folder.glob("model_h*.txt")
            if p.name not in {weights_file(h) for h in range(1, self.horizon + 1)}
        )
        if extra:
            raise WeightsMismatchError(
                f"lightgbm expects boosters for horizons 1..{self.horizon}, found extra {extra}"
            )
        self.boosters_ = boosters

    def parameter_count(self) -> int:
        return int(sum(b.num_trees() for b in self.boosters_))


DESCRIPTOR = register(
    FamilyDescriptor(
        model_class=LightGBMForecaster,
        weights_files=weights_files,
        default_weight=0.30,
        presets={
            "quick": {"max_rounds": 150, "early_stopping_rounds": 20},
            "default": {},
            "tiny": {"max_rounds": 30, "early_stopping_rounds": 20},
        },
        member=True,
        libraries=("lightgbm",),
    )
)

"""A fifth model family as a plugin: ridge regression over the 22 tabular features.

    ai-engine train --data F --plugin examples/ridge_family.py \\
        --members xgboost,lightgbm,nhits,patchtst,ridge --promote

numpy only; the weights are one JSON file. See docs/families.md for a walk-through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai_engine.errors import WeightsMismatchError
from ai_engine.models.base import FamilyDescriptor, Forecaster, ForecasterConfig, register

WEIGHTS_FILE = "ridge.json"


@dataclass(frozen=True)
class RidgeConfig(ForecasterConfig):
    """``n_features`` is set from the feature spec; ``alpha`` is the L2 penalty."""

    n_features: int = 22
    alpha: float = 1.0


class RidgeForecaster(Forecaster):
    """One linear map from the standardised features to all horizons, solved in closed form."""

    family = "ridge"
    input_kind = "tabular"
    config_class = RidgeConfig
    config: RidgeConfig

    def __init__(self, config: RidgeConfig) -> None:
        super().__init__(config)
        self.coef_ = np.zeros((config.n_features, config.horizon))
        self.intercept_ = np.zeros(config.horizon)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.n_features,)

    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        xc, yc = x64 - x64.mean(axis=0), y64 - y64.mean(axis=0)
        gram = xc.T @ xc + self.config.alpha * np.eye(xc.shape[1])
        self.coef_ = np.linalg.solve(gram, xc.T @ yc)
        self.intercept_ = y64.mean(axis=0) - x64.mean(axis=0) @ self.coef_
        residual = x_val.astype(np.float64) @ self.coef_ + self.intercept_ - y_val
        self.fit_info_ = {"val_mse": float(np.mean(residual**2))}

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ self.coef_ + self.intercept_

    def save_weights(self, folder: Path) -> None:
        weights = {"coef": self.coef_.tolist(), "intercept": self.intercept_.tolist()}
        (folder / WEIGHTS_FILE).write_text(json.dumps(weights))

    def load_weights(self, folder: Path) -> None:
        try:
            data = json.loads((folder / WEIGHTS_FILE).read_text())
            coef, intercept = np.asarray(data["coef"], float), np.asarray(data["intercept"], float)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsMismatchError(
                f"{WEIGHTS_FILE} is not a ridge weights file: {exc}"
            ) from exc
        expected = (self.config.n_features, self.horizon)
        if coef.shape != expected or intercept.shape != (self.horizon,):
            raise WeightsMismatchError(
                f"{WEIGHTS_FILE}: expected coef {expected} and intercept ({self.horizon},) "
                f"from config {self.config.to_dict()}, found {coef.shape} and {intercept.shape}"
            )
        self.coef_, self.intercept_ = coef, intercept

    def parameter_count(self) -> int:
        return int(self.coef_.size + self.intercept_.size)


DESCRIPTOR = register(
    FamilyDescriptor(
        model_class=RidgeForecaster,
        weights_files=(WEIGHTS_FILE,),
        default_weight=0.20,
        presets={"quick": {}, "default": {}, "tiny": {}},
    )
)

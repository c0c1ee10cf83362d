"""The one Forecaster interface every model family implements.

A family is one module holding a ``Config`` dataclass, a ``Forecaster`` subclass and a
``FamilyDescriptor`` it registers (see ``family.py``, re-exported here). The
architecture is built from the config alone (``Forecaster(config)``), for training and for
serving alike; ``fit`` learns weights and the scaler, ``save_weights`` / ``load_weights``
move the weights in the family's native, pickle-free format.

Shapes: tabular inputs are ``(n, n_features)``; sequence inputs are ``(n, lookback, channels)``.
Targets and forecasts are ``(n, horizon)`` cumulative forward log returns.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

import numpy as np

from ai_engine.errors import BundleError, ConfigError
from ai_engine.models.family import (
    FAMILY_MODULES,
    FamilyDescriptor,
    build,
    default_members,
    descriptor,
    families,
    get_family,
    register,
)

InputKind = Literal["tabular", "sequence"]

ConfigT = TypeVar("ConfigT", bound="ForecasterConfig")


@dataclass(frozen=True)
class ForecasterConfig:
    """Base of every family's Config: plain JSON-able hyperparameters, nothing fitted."""

    horizon: int = 12
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able primitives (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }

    @classmethod
    def from_dict(cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
        """Build a config, refusing unknown keys (a key the code no longer knows is a mismatch)."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"{cls.__qualname__}: unknown hyperparameter(s) {unknown}; expected some of "
                f"{sorted(known)}"
            )
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        try:
            return cls(**converted)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{cls.__qualname__}: {exc}") from exc

    def replace(self: ConfigT, **changes: Any) -> ConfigT:
        """A copy with some hyperparameters changed (validated like ``from_dict``)."""
        return type(self).from_dict({**self.to_dict(), **changes})


@dataclass(frozen=True)
class Scaler:
    """Standardisation of inputs (per feature or channel) and one scale for the targets.

    ``mean`` and ``scale`` have one entry per input feature (tabular) or channel (sequence);
    they apply to the last axis. Stored in a bundle as ``scaler.json``.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    target_scale: float

    @property
    def width(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray) -> Scaler:
        """Fit on training inputs ``x`` (``(n, f)`` or ``(n, L, c)``) and targets ``y``."""
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        mean = flat.mean(axis=0)
        scale = flat.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        target_scale = float(np.std(y)) or 1.0
        return cls(tuple(map(float, mean)), tuple(map(float, scale)), target_scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise inputs along the last axis; returns float32 of the same shape."""
        if x.shape[-1] != self.width:
            raise BundleError(
                f"scaler expects inputs of width {self.width}, found width {x.shape[-1]}"
            )
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "standard",
            "mean": list(self.mean),
            "scale": list(self.scale),
            "target_scale": self.target_scale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaler:
        """Parse scaler.json; refuse anything that is not a complete standard scaler."""
        try:
            if data["kind"] != "standard":
                raise BundleError(f"scaler kind must be 'standard', found {data['kind']!r}")
            mean = tuple(float(v) for v in data["mean"])
            scale = tuple(float(v) for v in data["scale"])
            target_scale = float(data["target_scale"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"scaler.json is malformed: {exc!r}") from exc
        if len(mean) != len(scale) or not all(s > 0 for s in scale) or target_scale <= 0:
            raise BundleError(
                f"scaler.json: expected equal-length mean/scale with positive scales, found "
                f"{len(mean)} means, {len(scale)} scales, target_scale {target_scale}"
            )
        return cls(mean, scale, target_scale)


class Forecaster(ABC):
    """One model family: built from its config, fitted on (x, y), predicts ``(n, horizon)``.

    Subclasses set ``family``, ``input_kind`` and ``config_class`` and implement ``_fit``,
    ``_predict``, ``save_weights`` and ``load_weights``. ``_fit`` and ``_predict`` see
    standardised inputs and targets divided by ``scaler_.target_scale``.
    """

    family: ClassVar[str]
    input_kind: ClassVar[InputKind]
    config_class: ClassVar[type[ForecasterConfig]]

    def __init__(self, config: ForecasterConfig) -> None:
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{self.family}: expected a {self.config_class.__qualname__}, "
                f"found {type(config).__qualname__}"
            )
        self.config = config
        self.scaler_: Scaler | None = None
        self.fit_info_: dict[str, Any] = {}

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input row: ``(n_features,)`` or ``(lookback, channels)``."""

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> Self:
        """Fit the scaler on ``x``/``y``, then the model, early-stopping on the validation pair."""
        self._check_inputs(x)
        self._check_inputs(x_val)
        self.scaler_ = Scaler.fit(x, y)
        scaler = self.scaler_
        self._fit(
            scaler.transform(x),
            (y / scaler.target_scale).astype(np.float32),
            scaler.transform(x_val),
            (y_val / scaler.target_scale).astype(np.float32),
        )
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forecast cumulative log returns, ``(n, *input_shape) -> (n, horizon)`` float64."""
        if self.scaler_ is None:
            raise BundleError(f"{self.family}: predict called before fit or load (no scaler)")
        self._check_inputs(x)
        out = self._predict(self.scaler_.transform(x))
        return np.asarray(out, dtype=np.float64) * self.scaler_.target_scale

    def _check_inputs(self, x: np.ndarray) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ConfigError(
                f"{self.family}: expected inputs of shape (n, "
                f"{', '.join(map(str, self.input_shape))}),"
                f" found {tuple(x.shape)}"
            )

    @abstractmethod
    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        """Fit on standardised float32 inputs and scaled targets ``(n, horizon)``."""

    @abstractmethod
    def _predict(self, x: np.ndarray) -> np.ndarray:
        """Scaled forecast ``(n, horizon)`` for standardised float32 inputs."""

    @abstractmethod
    def save_weights(self, folder: Path) -> None:
        """Write the descriptor's weight files into ``folder`` in the family's native format."""

    @abstractmethod
    def load_weights(self, folder: Path) -> None:
        """Load weights strictly; raise ``WeightsMismatchError`` naming what differs."""

    def parameter_count(self) -> int:
        """Number of learned parameters (trees: number of nodes)."""
        return 0


__all__ = [
    "FAMILY_MODULES",
    "FamilyDescriptor",
    "Forecaster",
    "ForecasterConfig",
    "InputKind",
    "Scaler",
    "build",
    "default_members",
    "descriptor",
    "families",
    "get_family",
    "register",
]


def __getattr__(name: str) -> tuple[str, ...]:
    """``ENSEMBLE_FAMILIES``: the default members, derived from the registry when first asked
    (computing it imports the built-in family modules)."""
    if name == "ENSEMBLE_FAMILIES":
        return default_members()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

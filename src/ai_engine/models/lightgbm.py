"""LightGBM family: one booster per horizon over the tabular features.

Inputs ``(n, n_features)``; forecasts ``(n, horizon)``. Boosters are stored in LightGBM's
native text format, one file per horizon step (``model_h01.txt`` ... ``model_h12.txt`` for
horizon 12; the descriptor derives the list from the config).

A few float32 rows are predicted through LightGBM's single-row C API
(``LGBM_BoosterPredictForMatSingleRowFast``, set up once per booster): the same predictions, bit
for bit, as ``Booster.predict``, whose Python and ctypes set-up per booster and call cost about
20 µs, twelve times per forecast (0.28 -> 0.02 ms for one row; benchmarks/RESULTS.md, issue 14
round three). More rows, other dtypes, or a library without those functions: ``Booster.predict``.
"""

from __future__ import annotations

import ctypes
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from ai_engine.errors import BundleError, WeightsMismatchError
from ai_engine.models.base import FamilyDescriptor, Forecaster, ForecasterConfig, register

SINGLE_ROW_MAX = 32
"""Up to this many rows go through the single-row C API one by one (about 1.1 µs per row and
booster); beyond, one ``Booster.predict`` per booster (about 20 µs, then a little per row) is
cheaper."""

_C_API_PREDICT_NORMAL = 0
_C_API_DTYPE_FLOAT32 = 0
_FAST_INIT = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,  # booster
    ctypes.c_int,  # predict type
    ctypes.c_int,  # start iteration
    ctypes.c_int,  # number of iterations (<= 0: all)
    ctypes.c_int,  # data type
    ctypes.c_int32,  # columns
    ctypes.c_char_p,  # parameters
    ctypes.POINTER(ctypes.c_void_p),  # out: fast config
)
_FAST_PREDICT = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,  # fast config
    ctypes.c_void_p,  # one row
    ctypes.POINTER(ctypes.c_int64),  # out: length
    ctypes.c_void_p,  # out: double
)
_FAST_FREE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class SingleRowPredictor:
    """``Booster.predict`` of each booster for float32 rows, one row at a time through the
    single-row C API, bit for bit (the library's own predictor behind both).

    Set up with each booster's prediction settings as ``_predict`` passes them
    (``num_iteration=best_iteration``, ``num_threads``); the boosters must not change after.
    A set-up serves one thread at a time (a lock, never waited on: a call that finds it taken
    answers None, and the caller's ``Booster.predict`` runs instead).
    """

    def __init__(self, boosters: Sequence[lgb.Booster], n_features: int, threads: int) -> None:
        lib = lgb.basic._LIB  # the library lightgbm loaded (no public accessor)
        if any(booster.num_feature() != n_features for booster in boosters):
            raise OSError(f"boosters expect other than {n_features} features")
        self._configs: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        self.boosters = tuple(boosters)
        self.n_features = n_features
        self._call = _FAST_PREDICT(("LGBM_BoosterPredictForMatSingleRowFast", lib))
        self._free = _FAST_FREE(("LGBM_FastConfigFree", lib))
        init = _FAST_INIT(("LGBM_BoosterPredictForMatSingleRowFastInit", lib))
        parameters = f"num_threads={threads}".encode()
        for booster in self.boosters:
            config = ctypes.c_void_p()
            status = init(
                booster._handle,  # the C handle (no public accessor)
                _C_API_PREDICT_NORMAL,
                0,
                booster.best_iteration,  # as predict: <= 0 means every iteration
                _C_API_DTYPE_FLOAT32,
                n_features,
                parameters,
                ctypes.byref(config),
            )
            if status != 0:
                self._release()
                raise OSError(f"LGBM_BoosterPredictForMatSingleRowFastInit failed ({status})")
            self._configs.append(config)

    @classmethod
    def of(
        cls, boosters: Sequence[lgb.Booster], n_features: int, threads: int
    ) -> SingleRowPredictor | None:
        """A predictor for ``boosters``, or None where the library does not offer one."""
        try:
            return cls(boosters, n_features, threads)
        except (AttributeError, OSError, TypeError):
            return None

    def _release(self) -> None:
        configs = getattr(self, "_configs", [])  # none yet when __init__ failed early
        self._configs = []
        for config in configs:
            self._free(config)

    def __del__(self) -> None:
        self._release()

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        """``(n, boosters)`` float64 for C-contiguous float32 ``x (n, n_features)``; None when
        the library reports an error (the caller's ``Booster.predict`` then says why)."""
        if x.shape[1] != self.n_features or not self._lock.acquire(blocking=False):
            return None
        try:
            return self._predict_rows(x)
        finally:
            self._lock.release()

    def _predict_rows(self, x: np.ndarray) -> np.ndarray | None:
        out = np.empty((len(x), len(self._configs)), dtype=np.float64)
        length = ctypes.c_int64()
        stride, base, row_bytes = out.strides[0], out.ctypes.data, x.strides[0]
        for row in range(len(x)):
            data = x.ctypes.data + row * row_bytes
            target = base + row * stride
            for column, config in enumerate(self._configs):
                if self._call(config, data, length, target + 8 * column) != 0:
                    return None
        return out


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
        self._rows: SingleRowPredictor | None = None
        self._rows_for: tuple[lgb.Booster, ...] = ()

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
        fast = self._fast_predict(x)
        if fast is not None:
            return fast
        threads = self.config.n_threads
        return np.column_stack(
            [
                b.predict(x, num_iteration=b.best_iteration or None, num_threads=threads)
                for b in self.boosters_
            ]
        )

    def _fast_predict(self, x: np.ndarray) -> np.ndarray | None:
        """``SingleRowPredictor``'s answer for a few float32 rows, made for the current
        boosters (``boosters_`` may be replaced: fit, load, legacy import); else None."""
        if x.dtype != np.float32 or x.ndim != 2 or not 0 < len(x) <= SINGLE_ROW_MAX:
            return None
        boosters = self.boosters_
        known = self._rows_for
        if len(known) != len(boosters) or any(map(operator.is_not, known, boosters)):
            self._rows_for = tuple(boosters)
            self._rows = SingleRowPredictor.of(boosters, x.shape[1], self.config.n_threads)
        return None if self._rows is None else self._rows.predict(np.ascontiguousarray(x))

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

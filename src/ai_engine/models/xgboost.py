"""XGBoost family: one multi-output booster over the tabular features, all horizons at once.

Inputs ``(n, n_features)``; forecasts ``(n, horizon)``. The booster is stored in XGBoost's
native UBJSON format (``model.ubj``), never pickled.

Prediction calls XGBoost's C function ``XGBoosterPredictFromDense`` (what
``Booster.inplace_predict`` calls for a numpy array) directly, with one proxy DMatrix kept per
booster: the same predictions, bit for bit, without ``inplace_predict``'s per-call Python work
and without a new proxy per call (whose set-up reads the cgroup CPU quota files every time):
0.16 -> 0.05 ms for one row (benchmarks/RESULTS.md, issue 14 round three). Where the library
does not offer that function, ``inplace_predict`` is used.
"""

from __future__ import annotations

import ctypes
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from ai_engine.errors import BundleError, WeightsMismatchError
from ai_engine.models.base import FamilyDescriptor, Forecaster, ForecasterConfig, register

WEIGHTS_FILE = "model.ubj"

_ARGS = json.dumps(
    {
        "type": 0,  # predict_type="value", as inplace_predict's default
        "training": False,
        "iteration_begin": 0,
        "iteration_end": 0,
        "missing": float("nan"),
        "strict_shape": False,
        "cache_id": 0,
    }
).encode()
"""``inplace_predict``'s default arguments, as it encodes them for the C function."""

_Shape = ctypes.POINTER(ctypes.c_uint64)
_Floats = ctypes.POINTER(ctypes.c_float)
_PREDICT_FROM_DENSE = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,  # booster
    ctypes.c_char_p,  # array interface (JSON)
    ctypes.c_char_p,  # arguments (JSON)
    ctypes.c_void_p,  # proxy DMatrix or NULL
    ctypes.POINTER(_Shape),
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(_Floats),
)
_HANDLE_OUT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_void_p))
_HANDLE_IN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class DensePredictor:
    """``booster.inplace_predict(x)`` for float32 rows through the C API, bit for bit.

    The proxy DMatrix is shared by the calls of one thread at a time (a lock, never waited
    on: a call that finds it taken passes no proxy, as ``inplace_predict`` does). The output
    lives in the booster's per-thread buffer and is copied out at once.
    """

    def __init__(self, booster: xgb.Booster) -> None:
        lib = xgb.core._LIB  # the library xgboost loaded (no public accessor)
        self.booster = booster
        self._predict = _PREDICT_FROM_DENSE(("XGBoosterPredictFromDense", lib))
        self._free = _HANDLE_IN(("XGDMatrixFree", lib))
        self._lock = threading.Lock()
        self._proxy = ctypes.c_void_p()
        if _HANDLE_OUT(("XGProxyDMatrixCreate", lib))(ctypes.byref(self._proxy)) != 0:
            self._proxy = ctypes.c_void_p()

    @classmethod
    def of(cls, booster: xgb.Booster) -> DensePredictor | None:
        """A predictor for ``booster``, or None where the library lacks the C functions."""
        try:
            return cls(booster)
        except (AttributeError, OSError):
            return None

    def __del__(self) -> None:
        proxy = getattr(self, "_proxy", None)  # None: __init__ failed before making it
        self._proxy = ctypes.c_void_p()
        if proxy is not None and proxy.value:
            self._free(proxy)

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        """Predictions ``(n, outputs)`` for C-contiguous float32 ``x (n, features)``; None
        when the library reports an error (the caller's ``inplace_predict`` then says why)."""
        n, width = x.shape
        interface = (
            f'{{"data": [{x.ctypes.data}, false], "strides": null, "descr": [["", "<f4"]], '
            f'"typestr": "<f4", "shape": [{n}, {width}], "version": 3}}'
        ).encode()
        shape, dims, out = _Shape(), ctypes.c_uint64(), _Floats()
        owned = self._lock.acquire(blocking=False)
        try:
            proxy = self._proxy if owned else ctypes.c_void_p()
            handle = self.booster.handle
            status = self._predict(handle, interface, _ARGS, proxy, shape, dims, out)
            if status != 0:
                return None
            size = 1
            for axis in range(dims.value):
                size *= int(shape[axis])
            return np.ctypeslib.as_array(out, shape=(size,)).reshape(n, -1).copy()
        finally:
            if owned:
                self._lock.release()


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
        self._dense: DensePredictor | None = None
        self._dense_for: xgb.Booster | None = None

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
        out = self._fast_predict(self.booster_, x)
        if out is None:
            out = self.booster_.inplace_predict(x)
        return np.asarray(out).reshape(len(x), self.horizon)

    def _fast_predict(self, booster: xgb.Booster, x: np.ndarray) -> np.ndarray | None:
        """``DensePredictor``'s answer for float32 rows (made for the current booster), else
        None."""
        if x.dtype != np.float32 or x.ndim != 2 or len(x) == 0:
            return None
        if self._dense_for is not booster:
            self._dense_for, self._dense = booster, DensePredictor.of(booster)
        return None if self._dense is None else self._dense.predict(np.ascontiguousarray(x))

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

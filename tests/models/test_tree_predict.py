"""The trees' fast predict paths (XGBoost's C ``PredictFromDense`` with a kept proxy, LightGBM's
single-row C API) give the libraries' own predictions bit for bit, and step aside when they
cannot."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from ai_engine.features import SPEC_V1, training_data
from ai_engine.models.base import build, descriptor
from ai_engine.models.lightgbm import SINGLE_ROW_MAX, LightGBMForecaster
from ai_engine.models.xgboost import XGBoostForecaster

from synthetic import synthetic_frame


@pytest.fixture(scope="module")
def dataset() -> tuple[Any, np.ndarray]:
    return training_data(synthetic_frame(700, seed=5), SPEC_V1)


def fitted(family: str, dataset: tuple[Any, np.ndarray]) -> Any:
    inputs, y = dataset
    model = build(family, {**descriptor(family).presets["tiny"], "seed": 1})
    x = inputs.tabular
    model.fit(x[:350], y[:350], x[362:], y[362:])
    return model


def rows(n: int, seed: int = 0) -> np.ndarray:
    """Standardised-looking float32 rows with exact zeros and a NaN (missing) in them."""
    x = (np.random.default_rng(seed).standard_normal((n, 22)) * 2).astype(np.float32)
    x[0, :3] = 0.0
    x[-1, 4] = np.nan
    return x


def xgboost_reference(model: XGBoostForecaster, x: np.ndarray) -> np.ndarray:
    assert model.booster_ is not None
    return np.asarray(model.booster_.inplace_predict(x)).reshape(len(x), model.horizon)


def lightgbm_reference(model: LightGBMForecaster, x: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [b.predict(x, num_iteration=b.best_iteration or None) for b in model.boosters_]
    )


@pytest.mark.parametrize("n", [1, 3, 40])
def test_xgboost_fast_path_equals_inplace_predict(dataset: Any, n: int) -> None:
    model = fitted("xgboost", dataset)
    x = rows(n)
    out = model._predict(x)
    assert model._dense is not None, "the C path is not available with this xgboost"
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, xgboost_reference(model, x))
    np.testing.assert_array_equal(model._predict(x), out)  # the kept proxy, again


@pytest.mark.parametrize("n", [1, 3, SINGLE_ROW_MAX, SINGLE_ROW_MAX + 1])
def test_lightgbm_fast_path_equals_booster_predict(dataset: Any, n: int) -> None:
    model = fitted("lightgbm", dataset)
    assert any(b.best_iteration > 0 for b in model.boosters_)  # early-stopped: a limit applies
    x = rows(n)
    out = model._predict(x)
    assert (model._rows is not None) == (n <= SINGLE_ROW_MAX)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, lightgbm_reference(model, x))


def test_fast_paths_after_reload(dataset: Any, tmp_path: Any) -> None:
    for family in ("xgboost", "lightgbm"):
        model = fitted(family, dataset)
        model.save_weights(tmp_path)
        again = build(family, model.config.to_dict())
        again.scaler_ = model.scaler_
        again.load_weights(tmp_path)
        x = rows(2, seed=3)
        reference = (
            xgboost_reference(again, x) if family == "xgboost" else lightgbm_reference(again, x)
        )
        np.testing.assert_array_equal(again._predict(x), reference)
        np.testing.assert_array_equal(again._predict(x), model._predict(x))


def test_replaced_boosters_are_followed(dataset: Any) -> None:
    """Legacy import and refits assign ``booster_`` / ``boosters_``: never a stale predictor."""
    xgb_model, other_xgb = fitted("xgboost", dataset), fitted("xgboost", dataset)
    lgb_model = fitted("lightgbm", dataset)
    x = rows(1, seed=4)
    xgb_model._predict(x)
    lgb_model._predict(x)
    xgb_model.booster_ = other_xgb.booster_[:1]
    np.testing.assert_array_equal(xgb_model._predict(x), xgboost_reference(xgb_model, x))
    lgb_model.boosters_ = list(reversed(lgb_model.boosters_))
    np.testing.assert_array_equal(lgb_model._predict(x), lightgbm_reference(lgb_model, x))


def test_other_dtypes_take_the_library_path(dataset: Any) -> None:
    model = fitted("lightgbm", dataset)
    x = rows(2).astype(np.float64)
    np.testing.assert_array_equal(model._predict(x), lightgbm_reference(model, x))
    assert model._rows is None
    xgb_model = fitted("xgboost", dataset)
    np.testing.assert_array_equal(xgb_model._predict(x), xgboost_reference(xgb_model, x))
    assert xgb_model._dense is None


def test_threads_share_a_model(dataset: Any) -> None:
    """Concurrent predictions (the proxy is taken by one thread at a time) stay exact."""
    models = [fitted("xgboost", dataset), fitted("lightgbm", dataset)]
    inputs = [rows(1 + k % 3, seed=k) for k in range(8)]
    expected = [[m._predict(x) for x in inputs] for m in models]
    failures: list[str] = []

    def work(seed: int) -> None:
        for step in range(200):
            k = (seed + step) % len(inputs)
            for m, want in zip(models, expected, strict=True):
                if not np.array_equal(m._predict(inputs[k]), want[k]):
                    failures.append(f"{m.family} input {k}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

"""One contract for every ensemble family: fit, predict (n, 12), bundle, reload in a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ai_engine.bundle import BundleInfo, load_bundle, save_bundle
from ai_engine.errors import ConfigError
from ai_engine.features import SPEC_V1, training_data
from ai_engine.models.base import ENSEMBLE_FAMILIES, build, get_family

from synthetic import synthetic_frame
from tiny import TINY

RELOAD = """
import json, sys
import numpy as np
from ai_engine.bundle import load_bundle
loaded = load_bundle(sys.argv[1])
x = np.asarray(json.loads(sys.argv[2]))
print(json.dumps(loaded.model.predict(x).tolist()))
"""


@pytest.fixture(scope="module")
def dataset() -> tuple[Any, np.ndarray]:
    return training_data(synthetic_frame(700, seed=5), SPEC_V1)


def fitted(family: str, dataset: tuple[Any, np.ndarray]) -> tuple[Any, np.ndarray]:
    inputs, y = dataset
    model = build(family, {**TINY[family], "seed": 1})
    x = inputs.of_kind(model.input_kind)
    model.fit(x[:350], y[:350], x[362:], y[362:])
    return model, x


@pytest.mark.parametrize("family", ENSEMBLE_FAMILIES)
def test_family_contract(family: str, dataset: tuple[Any, np.ndarray], tmp_path: Path) -> None:
    cls = get_family(family)
    assert cls.family == family
    model, x = fitted(family, dataset)
    assert model.input_shape == x.shape[1:]
    forecast = model.predict(x[:17])
    assert forecast.shape == (17, 12) and forecast.dtype == np.float64
    assert np.isfinite(forecast).all() and np.ptp(forecast[:, -1]) > 0

    info = BundleInfo("v20250101_000000", "TEST-5m", "2025-01-01T00:00:00+00:00", {}, {})
    save_bundle(model, tmp_path, info, x[360:368])
    assert not list(tmp_path.glob("*.pkl"))
    assert load_bundle(tmp_path).model.predict(x[:17]) == pytest.approx(forecast, rel=0, abs=0)

    probe = json.dumps(x[:17].tolist())
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tmp_path), probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    np.testing.assert_array_equal(np.asarray(json.loads(result.stdout)), forecast)


@pytest.mark.parametrize("family", ENSEMBLE_FAMILIES)
def test_same_seed_same_model(family: str, dataset: tuple[Any, np.ndarray]) -> None:
    first, x = fitted(family, dataset)
    second, _ = fitted(family, dataset)
    np.testing.assert_array_equal(first.predict(x[:9]), second.predict(x[:9]))


@pytest.mark.parametrize("family", ENSEMBLE_FAMILIES)
def test_unknown_hyperparameter_and_wrong_input_shape_are_refused(family: str) -> None:
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        build(family, {"no_such_knob": 1})
    model = build(family, {})
    wrong = np.zeros((2, *[d + 1 for d in model.input_shape]))
    with pytest.raises(ConfigError, match="expected inputs of shape"):
        model._check_inputs(wrong)


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown model family 'prophet'; expected one of"):
        get_family("prophet")

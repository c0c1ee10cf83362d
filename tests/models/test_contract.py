"""One contract for every trainable family, the ridge plugin included: fit, predict (n, 12),
bundle with exactly the descriptor's weight files, reload in a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ai_engine.bundle import BundleInfo, load_bundle, save_bundle
from ai_engine.errors import BundleError, ConfigError
from ai_engine.features import SPEC_V1, training_data
from ai_engine.models.base import build, descriptor, families, get_family
from ai_engine.models.onnx_runtime import ONNX_RTOL, relative_difference

from synthetic import synthetic_frame
from tiny import ridge_plugin

ridge_plugin()
FAMILIES = [d.name for d in families() if d.trainable]

RELOAD = """
import json, sys
import numpy as np
from ai_engine.bundle import load_bundle
from ai_engine.models.family import import_plugin
for plugin in sys.argv[3:]:  # a fresh process knows plugin families once it imports them
    import_plugin(plugin)
loaded = load_bundle(sys.argv[1])
x = np.asarray(json.loads(sys.argv[2]))
print(json.dumps(loaded.model.predict(x).tolist()))
"""


@pytest.fixture(scope="module")
def dataset() -> tuple[Any, np.ndarray]:
    return training_data(synthetic_frame(700, seed=5), SPEC_V1)


def fitted(family: str, dataset: tuple[Any, np.ndarray]) -> tuple[Any, np.ndarray]:
    inputs, y = dataset
    model = build(family, {**descriptor(family).presets["tiny"], "seed": 1})
    x = inputs.of_kind(model.input_kind)
    model.fit(x[:350], y[:350], x[362:], y[362:])
    return model, x


@pytest.mark.parametrize("family", FAMILIES)
def test_family_contract(family: str, dataset: tuple[Any, np.ndarray], tmp_path: Path) -> None:
    cls = get_family(family)
    assert cls.family == family
    model, x = fitted(family, dataset)
    assert model.input_shape == x.shape[1:]
    forecast = model.predict(x[:17])
    assert forecast.shape == (17, 12) and forecast.dtype == np.float64
    assert np.isfinite(forecast).all() and np.ptp(forecast[:, -1]) > 0

    info = BundleInfo("v20250101_000000", "TEST-5m", "2025-01-01T00:00:00+00:00", {}, {})
    manifest = save_bundle(model, tmp_path, info, x[360:368])
    assert not list(tmp_path.glob("*.pkl"))
    declared = descriptor(family).files_for(model.config)
    assert manifest.weights_files == sorted(declared) and set(declared) <= set(manifest.files)
    loaded = load_bundle(tmp_path).model
    served = loaded.predict(x[:17])
    if getattr(loaded, "inference", {}).get("runtime") == "onnxruntime":  # its checked model.onnx
        assert relative_difference(served, forecast) <= ONNX_RTOL
    else:
        assert served == pytest.approx(forecast, rel=0, abs=0)

    probe = json.dumps(x[:17].tolist())
    plugin = descriptor(family).plugin
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tmp_path), probe, *filter(None, [plugin])],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert relative_difference(np.asarray(json.loads(result.stdout)), served) == 0.0


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_model(family: str, dataset: tuple[Any, np.ndarray]) -> None:
    first, x = fitted(family, dataset)
    second, _ = fitted(family, dataset)
    np.testing.assert_array_equal(first.predict(x[:9]), second.predict(x[:9]))


@pytest.mark.parametrize("family", FAMILIES)
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


def test_families_include_the_builtin_members_and_the_plugin() -> None:
    assert {"xgboost", "lightgbm", "nhits", "patchtst", "ridge"} <= set(FAMILIES)
    ridge = descriptor("ridge")
    assert ridge.origin.endswith("ridge_family.py") and ridge.plugin == ridge.origin
    assert not ridge.member and descriptor("xgboost").plugin is None


def test_lightgbm_weight_files_follow_the_horizon() -> None:
    lightgbm = descriptor("lightgbm")
    files = lightgbm.files_for(lightgbm.config_class().replace(horizon=3))
    assert files == ("model_h01.txt", "model_h02.txt", "model_h03.txt")


def test_a_manifest_listing_other_weight_files_is_refused(
    dataset: tuple[Any, np.ndarray], tmp_path: Path
) -> None:
    model, x = fitted("ridge", dataset)
    info = BundleInfo("v20250101_000000", "TEST-5m", "2025-01-01T00:00:00+00:00", {}, {})
    save_bundle(model, tmp_path, info, x[360:368])
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "weights_files": ["other.json"]}))
    with pytest.raises(BundleError, match=r"holds weight files \['ridge.json'\], manifest"):
        load_bundle(tmp_path)

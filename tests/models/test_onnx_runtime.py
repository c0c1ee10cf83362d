"""The PyTorch members through ONNX Runtime (issue 26): ``model.onnx`` is saved beside the
weights with its sha256, served for small batches only when it equals the eager network on the
probe (1e-5 relative), and a bundle without it (or with one that differs) loads eager, saying
why; a tampered file is refused by its checksum."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ai_engine.bundle import load_bundle
from ai_engine.engine import Engine
from ai_engine.errors import ChecksumError
from ai_engine.features import latest_inputs, model_inputs
from ai_engine.models.onnx_runtime import (
    MAX_ROWS,
    ONNX_FILE,
    ONNX_RTOL,
    export_onnx,
    relative_difference,
)
from ai_engine.models.sequence import TorchSequenceForecaster
from trained import bundle_of, candles, edit_manifest, refresh_checksum, repin, tiny_registry

SEQUENCE = ["nhits", "patchtst"]


def eager(model: TorchSequenceForecaster, x: np.ndarray) -> np.ndarray:
    """The same forecast with ONNX Runtime detached (eager torch)."""
    onnx, model._onnx = model._onnx, None
    try:
        return model.predict(x)
    finally:
        model._onnx = onnx


def sequence_model(path: Path) -> TorchSequenceForecaster:
    model = load_bundle(path).model
    assert isinstance(model, TorchSequenceForecaster)
    return model


def test_the_test_release_serves_onnx_and_equals_eager(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    engine = Engine.load(registry)
    frame = candles().frame
    rows = np.arange(len(frame) - 300, len(frame))
    inputs = model_inputs(frame, engine.spec, rows)
    seen = set()
    for member in engine.members:
        assert member.bundle is not None, member.reason
        model = member.bundle.model
        if not isinstance(model, TorchSequenceForecaster):
            assert getattr(model, "inference", None) is None
            continue
        seen.add(member.family)
        assert ONNX_FILE in member.bundle.manifest.files
        assert model.inference["runtime"] == "onnxruntime", model.inference
        x = inputs.of_kind("sequence")
        for batch in (x[:1], x[7:8], x[:5], x[:MAX_ROWS], x):  # one row ... past MAX_ROWS
            assert relative_difference(model.predict(batch), eager(model, batch)) <= ONNX_RTOL
        for row in range(0, len(x), 37):  # each window alone, as a request sends it
            one = x[row : row + 1]
            assert relative_difference(model.predict(one), eager(model, one)) <= ONNX_RTOL
    assert seen == set(SEQUENCE)
    signal_inputs = latest_inputs(frame, engine.spec)
    served = engine.forecasts_many([signal_inputs])[0]
    assert all(f.forecast is not None for f in served)


@pytest.mark.parametrize("family", SEQUENCE)
def test_a_tampered_model_onnx_is_refused_by_its_checksum(family: str, tmp_path: Path) -> None:
    bundle = bundle_of(tiny_registry(tmp_path / "registry"), family)
    data = bytearray((bundle / ONNX_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / ONNX_FILE).write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=f"{ONNX_FILE} sha256 expected"):
        load_bundle(bundle)


@pytest.mark.parametrize("family", SEQUENCE)
def test_a_bundle_without_model_onnx_loads_eager_with_a_reason(family: str, tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    bundle = bundle_of(registry, family)
    served = sequence_model(bundle)
    (bundle / ONNX_FILE).unlink()  # a bundle written before the export existed
    edit_manifest(bundle, lambda m: m["files"].pop(ONNX_FILE))
    repin(registry)
    model = sequence_model(bundle)
    assert model.inference == {
        "runtime": "torch",
        "reason": f"no {ONNX_FILE} in the bundle (saved before ONNX export)",
    }
    probe = np.asarray(json.loads((bundle / "probe.json").read_text())["input"])
    np.testing.assert_array_equal(model.predict(probe[:1]), eager(served, probe[:1]))
    member = next(m for m in Engine.load(registry).members if m.family == family)
    assert member.healthy and member.bundle is not None
    assert "no model.onnx" in member.bundle.model.inference["reason"]


@pytest.mark.parametrize("family", SEQUENCE)
def test_a_model_onnx_that_differs_from_eager_is_not_served(family: str, tmp_path: Path) -> None:
    bundle = bundle_of(tiny_registry(tmp_path / "registry"), family)
    model = sequence_model(bundle)
    network = model._network()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.05)
    export_onnx(network, model.input_shape, bundle / ONNX_FILE)  # other weights, same shape
    refresh_checksum(bundle, ONNX_FILE)
    reloaded = sequence_model(bundle)
    assert reloaded.inference["runtime"] == "torch"
    assert f"{ONNX_FILE} differs from the eager network by" in reloaded.inference["reason"]
    assert reloaded._onnx is None

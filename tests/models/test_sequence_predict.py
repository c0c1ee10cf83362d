"""The PyTorch members' predict path: eager by default, compiled for one row on request
(``compile_predict``), within float32 rounding of eager, and eager again whenever it cannot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from ai_engine.models.base import build, descriptor
from ai_engine.models.sequence import TorchSequenceForecaster

FAMILIES = ["nhits", "patchtst"]


def forecaster(family: str) -> TorchSequenceForecaster:
    model = build(family, {**descriptor(family).presets["tiny"], "seed": 3})
    assert isinstance(model, TorchSequenceForecaster)
    model.network_ = model._seeded_network()
    return model


def windows(model: TorchSequenceForecaster, n: int, seed: int = 0) -> np.ndarray:
    shape = (n, *model.input_shape)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def eager(model: TorchSequenceForecaster, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        steps = model._network()(torch.from_numpy(x))[..., 0]
        return torch.cumsum(steps, dim=1).numpy()


@pytest.fixture(scope="module", params=FAMILIES)
def compiled(request: pytest.FixtureRequest) -> TorchSequenceForecaster:
    model = forecaster(request.param)
    with torch.random.fork_rng(devices=[]):
        why = model.compile_predict()
    assert why is None, why
    return model


@pytest.mark.parametrize("family", FAMILIES)
def test_eager_by_default_and_bit_identical(family: str) -> None:
    model = forecaster(family)
    for n in (1, 3):
        x = windows(model, n)
        np.testing.assert_array_equal(model._predict(x), eager(model, x))
    assert model._compiled is None


def test_compiled_one_row_is_eager_within_rounding_and_deterministic(
    compiled: TorchSequenceForecaster,
) -> None:
    for seed in range(5):
        x = windows(compiled, 1, seed)
        first = compiled._predict(x)
        np.testing.assert_array_equal(compiled._predict(x), first)  # same path, same answer
        np.testing.assert_allclose(first, eager(compiled, x), rtol=1e-4, atol=1e-5)
    batch = windows(compiled, 4)  # other batch sizes stay eager, bit for bit
    np.testing.assert_array_equal(compiled._predict(batch), eager(compiled, batch))


def test_new_weights_run_eager_until_compiled_again(compiled: TorchSequenceForecaster) -> None:
    model = forecaster(compiled.family)
    model.network_ = compiled._seeded_network()
    model._compiled, model._compiled_for = compiled._compiled, compiled._compiled_for
    with torch.no_grad():
        next(model.network_.parameters()).add_(0.5)  # a refit or load makes a new network
    x = windows(model, 1, seed=9)
    np.testing.assert_array_equal(model._predict(x), eager(model, x))


def _broken(*_: Any, **__: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    raise RuntimeError("no C++ compiler")


def _skewed(network: torch.nn.Module, **_: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: network(x) * 1.01 + 0.1


@pytest.mark.parametrize(
    ("fake", "reason"), [(_broken, "torch.compile failed"), (_skewed, "differs")]
)
def test_a_failed_or_inexact_compilation_stays_eager(
    monkeypatch: pytest.MonkeyPatch, fake: Callable[..., Any], reason: str
) -> None:
    model = forecaster("patchtst")
    monkeypatch.setattr(torch, "compile", fake)
    why = model.compile_predict()
    assert why is not None and reason in why
    x = windows(model, 1)
    np.testing.assert_array_equal(model._predict(x), eager(model, x))


def test_a_compiled_network_that_fails_later_falls_back_to_eager() -> None:
    model = forecaster("nhits")
    x = windows(model, 1)

    def fails(_: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("recompilation failed")

    model._compiled, model._compiled_for = fails, model._network()
    np.testing.assert_array_equal(model._predict(x), eager(model, x))
    assert model._compiled is None

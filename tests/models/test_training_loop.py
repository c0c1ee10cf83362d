"""The one training loop: seeding, early stopping, schedules, precision, unified settings."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ai_engine.errors import ConfigError
from ai_engine.models.nhits import NHiTSConfig
from ai_engine.models.patchtst import PatchTSTConfig
from ai_engine.models.sequence import SequenceNetConfig
from ai_engine.models.torch_utils import Dropout, set_seed
from ai_engine.models.training_loop import (
    EvalReport,
    TrainHyperparameters,
    TrainResult,
    TrainSettings,
    train_network,
)


def _data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    w = rng.normal(size=(8, 3)).astype(np.float32)
    return x, (x @ w).astype(np.float32)


def _net(seed: int = 0) -> nn.Module:
    set_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def _train(seed: int, **changes: Any) -> tuple[nn.Module, TrainResult]:
    x, y = _data()
    net = _net(0)
    base = TrainSettings(batch_size=16, max_epochs=4, patience=10, seed=seed)
    settings = dataclasses.replace(base, **changes)
    result = train_network(net, x[:64], y[:64], x[64:], y[64:], settings)
    return net, result


def test_same_seed_gives_bit_identical_weights_and_other_seed_differs() -> None:
    a, _ = _train(seed=3)
    b, _ = _train(seed=3)
    c, _ = _train(seed=4)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_best_validation_weights_are_restored() -> None:
    x, y = _data()
    net = _net()
    reports: list[EvalReport] = []
    result = train_network(
        net,
        x[:64],
        y[:64],
        x[64:],
        y[64:],
        TrainSettings(learning_rate=0.05, batch_size=8, max_epochs=8, patience=8),
        on_eval=reports.append,
    )
    assert len(reports) == result.epochs_run == 8
    assert result.best_val_loss == min(r.val_loss for r in reports)
    with torch.no_grad():
        net.eval()
        val = float(nn.functional.mse_loss(net(torch.from_numpy(x[64:])), torch.from_numpy(y[64:])))
    assert val == pytest.approx(result.best_val_loss, rel=1e-5)


def test_patience_stops_when_validation_never_improves() -> None:
    _, result = _train(seed=0, learning_rate=0.0, max_epochs=50, patience=3)
    assert result.stopped == "patience"
    assert result.epochs_run == 4  # one improvement, then 3 without


def test_max_steps_and_mae_loss() -> None:
    _, result = _train(seed=0, max_steps=5, loss="mae")
    assert result.steps == 5
    assert result.stopped == "max_steps"


def test_patchtst_schedule_decays_by_0_9_after_epoch_3() -> None:
    x, y = _data()
    reports: list[EvalReport] = []
    settings = TrainSettings(
        learning_rate=1.0e-3, batch_size=32, max_epochs=6, lr_schedule="patchtst", patience=50
    )
    train_network(_net(), x[:64], y[:64], x[64:], y[64:], settings, on_eval=reports.append)
    expected = [1e-3 * 0.9 ** max(0, k - 3) for k in range(6)]
    assert [r.learning_rate for r in reports] == pytest.approx(expected)


def test_step_schedule_halves_lr_decays_times() -> None:
    x, y = _data()
    reports: list[EvalReport] = []
    settings = TrainSettings(
        learning_rate=1.0,
        batch_size=64,  # one step per epoch
        max_epochs=100,
        max_steps=9,
        lr_schedule="step",
        lr_decays=3,
        val_every_steps=1,
        patience=100,
    )
    train_network(_net(), x[:64], y[:64], x[64:], y[64:], settings, on_eval=reports.append)
    assert [r.learning_rate for r in reports] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="loss must be 'mse' or 'mae', found 'huber'"):
        TrainSettings(loss="huber")  # type: ignore[arg-type, unused-ignore]


def _training_forward_dtypes(precision: str) -> tuple[set[torch.dtype], nn.Module, TrainResult]:
    """Train briefly; the dtypes the first layer produced in training-mode forward passes."""
    x, y = _data()
    net = _net(0)
    seen: set[torch.dtype] = set()

    def record(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        if module.training:
            seen.add(output.dtype)

    net[0].register_forward_hook(record)
    settings = TrainSettings(batch_size=16, max_epochs=2, patience=10, precision=precision)
    result = train_network(net, x[:64], y[:64], x[64:], y[64:], settings)
    return seen, net, result


def test_bf16_autocast_is_opt_in_and_keeps_float32_weights() -> None:
    seen, net, result = _training_forward_dtypes("bf16")
    assert seen == {torch.bfloat16}  # the training forward passes ran under bf16 autocast
    assert np.isfinite(result.best_val_loss)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert _training_forward_dtypes("fp32")[0] == {torch.float32}  # off by default
    assert TrainSettings().precision == "fp32"
    with pytest.raises(ConfigError, match="precision must be 'fp32' or 'bf16', found 'fp16'"):
        TrainSettings(precision="fp16")


def test_training_fields_are_declared_once_and_reach_the_loop() -> None:
    shared = {f.name for f in dataclasses.fields(TrainHyperparameters)}
    assert shared <= {f.name for f in dataclasses.fields(SequenceNetConfig)}
    assert not shared & set(TrainSettings.__dataclass_fields__) - set(
        TrainHyperparameters.__dataclass_fields__
    )
    for config in (
        NHiTSConfig(learning_rate=0.02, batch_size=7, max_epochs=3, patience=2, seed=9),
        PatchTSTConfig(precision="bf16", lr_schedule="step", loss="mae", seed=4),
    ):
        settings = config.train_settings()
        for name in shared:
            assert getattr(settings, name) == getattr(config, name), name
        assert settings.seed == config.seed
    assert NHiTSConfig().train_settings().loss == "mae"
    assert PatchTSTConfig().train_settings().lr_schedule == "patchtst"


def test_bad_training_field_in_a_family_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"NHiTSConfig: batch_size, max_epochs and patience"):
        NHiTSConfig(patience=0)


def _dropout_net() -> nn.Module:
    set_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), Dropout(0.3), nn.Linear(16, 3))


def _train_compiled(
    compile_model: bool, threads: int = 1
) -> tuple[dict[str, torch.Tensor], TrainResult]:
    x, y = _data(n=100)
    net = _dropout_net()
    settings = TrainSettings(
        batch_size=16, max_epochs=3, patience=10, seed=5, torch_compile=compile_model
    )
    result = train_network(net, x[:76], y[:76], x[76:], y[76:], settings)  # 4 full + 1 partial
    return {k: v.clone() for k, v in net.state_dict().items()}, result


def test_torch_compile_is_opt_in_seeded_and_trains_like_eager() -> None:
    assert TrainSettings().torch_compile is False  # inductor needs g++ (.ci/run installs it)
    a, result = _train_compiled(True)
    b, _ = _train_compiled(True)
    eager, eager_result = _train_compiled(False)
    assert result.compiled and result.to_dict()["compiled"] and not eager_result.compiled
    for key, value in a.items():
        assert torch.equal(value, b[key]), key  # same seed, same compiled path: same weights
    # Other dropout masks (hashed), same maths: a close loss, not the same weights.
    assert result.best_val_loss == pytest.approx(eager_result.best_val_loss, rel=0.5)
    assert any(not torch.equal(v, eager[k]) for k, v in a.items())


def test_a_failed_compilation_falls_back_to_the_uncompiled_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(module: nn.Module, **_: Any) -> Any:
        def call(x: torch.Tensor) -> torch.Tensor:
            module(x)  # consumes random draws and moves nothing but what a real step would
            raise RuntimeError("no C++ compiler")

        return call

    eager, _ = _train_compiled(False)
    monkeypatch.setattr(torch, "compile", broken)
    fallen, result = _train_compiled(True)
    assert not result.compiled
    for key, value in fallen.items():
        assert torch.equal(value, eager[key]), key  # the failed step left no trace

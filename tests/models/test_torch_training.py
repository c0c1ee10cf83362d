"""The shared training loop: seeding, early stopping, schedules, strict safetensors I/O."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ai_engine.errors import WeightsMismatchError
from ai_engine.models._torch_training import (
    Dropout,
    EvalReport,
    TrainResult,
    TrainSettings,
    load_weights_strict,
    save_weights,
    set_seed,
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
    with pytest.raises(ValueError, match="loss"):
        TrainSettings(loss="huber")  # type: ignore[arg-type, unused-ignore]


def test_safetensors_round_trip(tmp_path: Path) -> None:
    a, b = _net(1), _net(2)
    save_weights(a, tmp_path / "w.safetensors")
    load_weights_strict(b, tmp_path / "w.safetensors", {"width": 16})
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])


def test_strict_load_names_missing_unexpected_keys_shapes_and_config(tmp_path: Path) -> None:
    state = {k: v.clone() for k, v in _net().state_dict().items()}
    state["0.extra"] = state.pop("3.bias")
    state["0.weight"] = torch.zeros(5, 8)
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsMismatchError) as info:
        load_weights_strict(_net(), tmp_path / "w.safetensors", {"width": 16, "depth": 2})
    message = str(info.value)
    assert "\n" not in message
    assert "missing keys ['3.bias']" in message
    assert "unexpected keys ['0.extra']" in message
    assert "0.weight: expected (16, 8), found (5, 8)" in message
    assert "'width': 16" in message


def test_missing_or_corrupt_file_is_a_weights_mismatch(tmp_path: Path) -> None:
    with pytest.raises(WeightsMismatchError, match="not found"):
        load_weights_strict(_net(), tmp_path / "absent.safetensors", {})
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsMismatchError, match="not readable"):
        load_weights_strict(_net(), tmp_path / "bad.safetensors", {})


def test_fast_dropout_matches_inverted_dropout_semantics() -> None:
    drop = Dropout(0.3).train()
    x = torch.ones(200_000, requires_grad=True)
    torch.manual_seed(5)
    out = drop(x)
    kept = out != 0
    assert float(kept.float().mean()) == pytest.approx(0.7, abs=0.005)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.7))
    out.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, out.detach())
    torch.manual_seed(5)
    assert torch.equal(drop(x), out)  # seeded: the same mask again
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert not list(drop.state_dict())


def test_bf16_autocast_is_opt_in_and_keeps_float32_weights() -> None:
    net, result = _train(seed=0, precision="bf16")
    assert np.isfinite(result.best_val_loss)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    with pytest.raises(ValueError, match="precision"):
        TrainSettings(precision="fp16")  # type: ignore[arg-type, unused-ignore]

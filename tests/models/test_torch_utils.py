"""Torch helpers: fast dropout, strict safetensors I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ai_engine.errors import WeightsMismatchError
from ai_engine.models.torch_utils import (
    Dropout,
    hashed_keep,
    load_weights_strict,
    save_weights,
    set_seed,
)


def _net(seed: int = 0) -> nn.Module:
    set_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


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


def test_hashed_keep_mask_rate_independence_and_seeding() -> None:
    shape = torch.Size([500, 400])
    torch.manual_seed(7)
    a, b = hashed_keep(shape, 0.3), hashed_keep(shape, 0.3)
    assert a.dtype == torch.int32 and set(a.unique().tolist()) == {0, 1}
    for mask in (a, b):
        assert float(mask.float().mean()) == pytest.approx(0.7, abs=0.005)
    assert float((a * b).float().mean()) == pytest.approx(0.49, abs=0.005)  # new keys per call
    assert float((a[:, 1:] * a[:, :-1]).float().mean()) == pytest.approx(0.49, abs=0.005)
    torch.manual_seed(7)
    assert torch.equal(hashed_keep(shape, 0.3), a)
    assert bool(hashed_keep(shape, 0.0).all())

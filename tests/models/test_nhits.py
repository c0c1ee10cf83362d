"""N-HiTS: the architecture pinned by shapes and counts, learning, determinism, strict load."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ai_engine.errors import ConfigError, WeightsMismatchError
from ai_engine.models.base import build, get_family
from ai_engine.models.nhits import NHiTS, NHiTSBlock, NHiTSConfig, NHiTSNetwork

from synthetic import sine_windows

TINY = NHiTSConfig(
    lookback=25,
    horizon=6,
    n_stacks=2,
    n_blocks=2,
    mlp_units=(16, 8),
    pool_kernel_sizes=(4, 1),
    n_freq_downsample=(4, 1),
)


def _network(config: NHiTSConfig = TINY) -> NHiTSNetwork:
    torch.manual_seed(0)
    return NHiTSNetwork(config).eval()


def _blocks(net: NHiTSNetwork) -> list[NHiTSBlock]:
    blocks = [b for b in net.blocks if isinstance(b, NHiTSBlock)]
    assert len(blocks) == len(net.blocks)
    return blocks


def test_registered_and_built_from_config_dict() -> None:
    assert get_family("nhits") is NHiTS
    model = build("nhits", TINY.to_dict())
    assert isinstance(model, NHiTS)
    assert model.config == TINY
    assert model.input_shape == (25, 1)


def test_pooled_input_size_per_stack() -> None:
    net = _network()
    assert TINY.pooled_sizes() == (math.ceil(25 / 4), 25) == (7, 25)
    blocks = _blocks(net)
    assert len(blocks) == 4
    for block, pooled in zip(blocks, (7, 7, 25, 25), strict=True):
        assert block.pool(torch.randn(3, 25)).shape == (3, pooled)
        first = block.mlp[0]
        assert isinstance(first, torch.nn.Linear)
        assert first.in_features == pooled


def test_max_pool_keeps_the_window_maxima() -> None:
    block = NHiTSBlock(8, 4, 3, 2, (4,), 0.0, "linear")
    x = torch.tensor([[1.0, 5.0, 2.0, 0.0, 7.0, 1.0, 3.0, 9.0]])
    assert block.pool(x).tolist() == [[5.0, 7.0, 9.0]]


def test_forecast_coefficients_are_interpolated_to_the_horizon() -> None:
    net = _network()
    knots = [block.theta.out_features - 25 for block in _blocks(net)]
    assert knots == [1, 1, 6, 6]  # max(6 // 4, 1), then 6 // 1
    block = NHiTSBlock(8, 4, 1, 2, (4,), 0.0, "linear")
    assert block.interpolate(torch.tensor([[0.0, 1.0]])).tolist() == [[0.0, 0.25, 0.75, 1.0]]
    for b in _blocks(net):
        backcast, forecast = b(torch.randn(5, 25))
        assert backcast.shape == (5, 25)
        assert forecast.shape == (5, 6)


def test_doubly_residual_stacking() -> None:
    config = TINY.replace(naive_level=True)
    net = _network(config)
    x = torch.randn(4, 25)
    inputs: list[torch.Tensor] = []
    outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def record(_module: torch.nn.Module, args: tuple[torch.Tensor], out: object) -> None:
        inputs.append(args[0])
        outputs.append(out)  # type: ignore[arg-type]

    for block in net.blocks:
        block.register_forward_hook(record)
    with torch.no_grad():
        forecast = net.forward_series(x)
    assert torch.equal(inputs[0], x.flip(-1))  # most recent value first
    for i in range(1, len(inputs)):
        assert torch.allclose(inputs[i], inputs[i - 1] - outputs[i - 1][0])
    level = x[:, -1:].expand(-1, 6)
    assert torch.allclose(forecast, level + sum(f for _, f in outputs), atol=1e-6)


def test_channels_share_one_univariate_model() -> None:
    net = _network(TINY.replace(channels=3))
    x = torch.randn(2, 25, 3)
    with torch.no_grad():
        out = net(x)
        assert out.shape == (2, 6, 3)
        for c in range(3):
            assert torch.allclose(out[..., c], net.forward_series(x[..., c]), atol=1e-6)


def test_parameter_count_matches_the_formula() -> None:
    lookback, horizon, units = 25, 6, (16, 8)

    def block(pooled: int, knots: int) -> int:
        widths = [pooled, *units]
        hidden = sum(a * b + b for a, b in itertools.pairwise(widths))
        out = lookback + knots
        return hidden + units[-1] * out + out

    expected = 2 * block(math.ceil(lookback / 4), max(horizon // 4, 1)) + 2 * block(lookback, 6)
    assert expected == 2 * (128 + 136 + 234) + 2 * (416 + 136 + 279)
    assert NHiTS(TINY).parameter_count() == expected


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="pool_kernel_sizes"):
        NHiTSConfig(n_stacks=2)
    with pytest.raises(ConfigError, match="interpolation"):
        NHiTSConfig(interpolation="cubic")
    with pytest.raises(ConfigError, match="loss"):
        NHiTSConfig(loss="huber")


def test_learns_a_noiseless_sine() -> None:
    x, y = sine_windows(32, 6)
    config = NHiTSConfig(
        lookback=32,
        horizon=6,
        mlp_units=(64, 64),
        pool_kernel_sizes=(2, 1),
        n_freq_downsample=(2, 1),
        n_stacks=2,
        max_epochs=25,
        patience=25,
        batch_size=32,
        loss="mse",
    )
    model = NHiTS(config).fit(x[:500], y[:500], x[500:], y[500:])
    error = float(np.mean((model.predict(x[500:]) - y[500:]) ** 2) / np.var(y[500:]))
    assert error < 0.02, model.fit_info_


def test_same_seed_same_weights_and_weights_round_trip(tmp_path: Path) -> None:
    x, y = sine_windows(25, 6, n=200)
    config = TINY.replace(max_epochs=2, batch_size=32, dropout=0.1)
    a = NHiTS(config).fit(x[:150], y[:150], x[150:], y[150:])
    b = NHiTS(config).fit(x[:150], y[:150], x[150:], y[150:])
    assert np.array_equal(a.predict(x[150:]), b.predict(x[150:]))
    a.save_weights(tmp_path)
    assert (tmp_path / "weights.safetensors").exists()
    c = NHiTS(config)
    c.scaler_ = a.scaler_
    c.load_weights(tmp_path)
    assert np.array_equal(a.predict(x[150:]), c.predict(x[150:]))


def test_strict_load_names_the_differences(tmp_path: Path) -> None:
    model = NHiTS(TINY)
    model.network_ = _network()
    model.save_weights(tmp_path)
    wider = NHiTS(TINY.replace(mlp_units=(16, 8, 8)))
    with pytest.raises(WeightsMismatchError) as info:
        wider.load_weights(tmp_path)
    message = str(info.value)
    assert "missing keys ['blocks.0.mlp.4.bias', 'blocks.0.mlp.4.weight'" in message
    assert "'mlp_units': [16, 8, 8]" in message

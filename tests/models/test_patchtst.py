"""PatchTST: patching, channel independence, RevIN, encoder details, count, learning, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ai_engine.errors import ConfigError, WeightsMismatchError
from ai_engine.models.base import build, get_family
from ai_engine.models.patchtst import (
    PatchTST,
    PatchTSTConfig,
    PatchTSTNetwork,
    RevIN,
    SelfAttention,
    TokenNorm,
)

from synthetic import sine_windows

TINY = PatchTSTConfig(
    lookback=40, horizon=6, d_model=8, n_heads=2, n_layers=2, d_ff=16, patch_len=8, stride=4
)


def _network(config: PatchTSTConfig = TINY) -> PatchTSTNetwork:
    torch.manual_seed(0)
    return PatchTSTNetwork(config).eval()


def test_registered_and_built_from_config_dict() -> None:
    assert get_family("patchtst") is PatchTST
    model = build("patchtst", TINY.to_dict())
    assert isinstance(model, PatchTST)
    assert model.config == TINY
    assert model.input_shape == (40, 1)


@pytest.mark.parametrize(
    ("lookback", "patch_len", "stride", "expected"),
    [(336, 16, 8, 42), (96, 16, 8, 12), (40, 8, 4, 10), (512, 16, 8, 64)],
)
def test_number_of_patches(lookback: int, patch_len: int, stride: int, expected: int) -> None:
    assert (lookback - patch_len) / stride + 2 == expected
    config = PatchTSTConfig(lookback=lookback, patch_len=patch_len, stride=stride, d_model=8)
    net = _network(config)
    assert config.n_patches == net.n_patches == expected
    assert net.patches(torch.randn(3, lookback, 2)).shape == (6, expected, patch_len)
    assert net.position.shape == (expected, 8)


def test_patches_are_strided_windows_with_the_last_value_repeated_at_the_end() -> None:
    net = _network()
    x = torch.arange(40.0).reshape(1, 40, 1)
    patches = net.patches(x)
    assert patches[0, 0].tolist() == list(range(8))
    assert patches[0, 1].tolist() == list(range(4, 12))
    assert patches[0, -1].tolist() == [36.0, 37.0, 38.0, 39.0, 39.0, 39.0, 39.0, 39.0]


def test_channel_independence_same_weights_for_every_channel() -> None:
    net = _network(TINY.replace(channels=3))
    x = torch.randn(5, 40, 3)
    perm = [2, 0, 1]
    with torch.no_grad():
        out = net(x)
        assert out.shape == (5, 6, 3)
        assert torch.allclose(net(x[..., perm]), out[..., perm], atol=1e-6)
        for c in range(3):  # one channel alone gives the same forecast
            assert torch.allclose(net(x[..., c : c + 1])[..., 0], out[..., c], atol=1e-5)


def test_revin_round_trip_and_statistics() -> None:
    revin = RevIN(channels=3, affine=True)
    with torch.no_grad():
        revin.weight.copy_(torch.tensor([0.5, 2.0, -1.5]))
        revin.bias.copy_(torch.tensor([0.1, -0.3, 2.0]))
    x = torch.randn(4, 50, 3) * 7 + 3
    z, mean, std = revin.normalize(x)
    assert torch.allclose(revin.denormalize(z, mean, std), x, atol=1e-4)
    plain, _, _ = RevIN(channels=3, affine=False).normalize(x)
    assert torch.allclose(plain.mean(dim=1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(plain.std(dim=1, unbiased=False), torch.ones(4, 3), atol=1e-4)


def test_revin_makes_the_forecast_follow_the_window_level_and_scale() -> None:
    net = _network()
    x = torch.randn(3, 40, 1)
    with torch.no_grad():
        base = net(x)
        moved = net(x * 4.0 + 10.0)
    assert torch.allclose(moved, base * 4.0 + 10.0, atol=1e-3)


def test_batch_norm_over_d_model_equals_official_transposed_batchnorm1d() -> None:
    norm = TokenNorm(8, "batch").train()
    reference = nn.BatchNorm1d(8).train()
    x = torch.randn(6, 5, 8)
    official = reference(x.transpose(1, 2)).transpose(1, 2)
    assert torch.allclose(norm(x), official, atol=1e-6)
    assert torch.allclose(norm.norm.running_mean, reference.running_mean)  # type: ignore[arg-type]


def test_attention_fast_path_equals_explicit_scores() -> None:
    attention = SelfAttention(8, 2, 0.0, 0.0).eval()
    x = torch.randn(3, 7, 8)
    with torch.no_grad():
        explicit, scores = attention(x, None, True)
        fast, no_scores = attention(x, None, False)
        assert scores is not None and scores.shape == (3, 2, 7, 7)
        assert no_scores is None
        assert torch.allclose(explicit, fast, atol=1e-5)
        residual, _ = attention(x, scores, True)  # residual attention adds the previous scores
        assert not torch.allclose(residual, explicit, atol=1e-4)


def test_parameter_count_matches_the_formula() -> None:
    c = TINY.replace(affine=True, channels=3)
    d, f, p, n_patches = c.d_model, c.d_ff, c.patch_len, (40 - 8) // 4 + 2
    embedding = p * d + d + n_patches * d
    attention = 3 * (d * d + d) + d * d + d
    feed_forward = d * f + f + f * d + d
    layer = attention + feed_forward + 2 * (2 * d)  # two BatchNorms: weight and bias
    head = n_patches * d * c.horizon + c.horizon
    revin = 2 * c.channels
    assert PatchTST(c).parameter_count() == embedding + c.n_layers * layer + head + revin


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="divisible"):
        PatchTSTConfig(d_model=10, n_heads=4)
    with pytest.raises(ConfigError, match="norm"):
        PatchTSTConfig(norm="group")
    with pytest.raises(ConfigError, match="lr_schedule"):
        PatchTSTConfig(lr_schedule="cosine")


def test_learns_a_noiseless_sine() -> None:
    x, y = sine_windows(32, 6)
    config = PatchTSTConfig(
        lookback=32,
        horizon=6,
        d_model=16,
        n_heads=2,
        n_layers=1,
        d_ff=32,
        dropout=0.0,
        patch_len=8,
        stride=4,
        learning_rate=3e-3,
        lr_schedule="constant",
        batch_size=32,
        max_epochs=15,
        patience=15,
    )
    model = PatchTST(config).fit(x[:500], y[:500], x[500:], y[500:])
    error = float(np.mean((model.predict(x[500:]) - y[500:]) ** 2) / np.var(y[500:]))
    assert error < 0.02, model.fit_info_


def test_same_seed_same_weights_and_weights_round_trip(tmp_path: Path) -> None:
    x, y = sine_windows(40, 6, n=200)
    config = TINY.replace(max_epochs=2, batch_size=32)
    a = PatchTST(config).fit(x[:150], y[:150], x[150:], y[150:])
    b = PatchTST(config).fit(x[:150], y[:150], x[150:], y[150:])
    assert a.network_ is not None and b.network_ is not None
    for key, value in a.network_.state_dict().items():
        assert torch.equal(value, b.network_.state_dict()[key]), key
    a.save_weights(tmp_path)
    c = PatchTST(config)
    c.scaler_ = a.scaler_
    c.load_weights(tmp_path)
    assert np.array_equal(a.predict(x[150:]), c.predict(x[150:]))


def test_strict_load_names_the_differences(tmp_path: Path) -> None:
    model = PatchTST(TINY)
    model.network_ = _network()
    model.save_weights(tmp_path)
    with pytest.raises(WeightsMismatchError) as info:
        PatchTST(TINY.replace(affine=True, n_layers=1)).load_weights(tmp_path)
    message = str(info.value)
    assert "missing keys ['revin.bias', 'revin.weight']" in message
    assert "unexpected keys ['layers.1." in message
    assert "'n_layers': 1" in message
    with pytest.raises(WeightsMismatchError, match=r"head.weight: expected \(6, 120\)"):
        PatchTST(TINY.replace(d_model=12, n_heads=2)).load_weights(tmp_path)

"""PatchTST (Nie et al., ICLR 2023), the supervised model of the official code.

``(b, L, c) -> (b, H, c)``:

1. RevIN: each series of each window is standardised by its own mean and standard deviation
   (optionally with a learnable per-channel affine map), undone on the output.
2. Channel independence: the ``c`` channels are folded into the batch, every channel goes through
   the same weights.
3. Patching: the series is padded at the end by repeating its last value ``stride`` times, then
   cut into patches of ``patch_len`` every ``stride`` steps: ``(L - P) / S + 2`` patches.
4. A linear patch embedding ``P -> d_model`` plus a learnable positional encoding, dropout.
5. ``n_layers`` post-norm Transformer encoder layers: multi-head self-attention (optionally
   "residual attention": each layer adds the previous layer's pre-softmax scores to its own), then
   a GELU feed-forward of width ``d_ff``; BatchNorm over ``d_model`` after each sub-layer (the
   official default; ``norm="layer"`` for LayerNorm).
6. A flatten head: ``n_patches * d_model -> horizon`` with ``head_dropout``.

Batch-norm statistics over ``(n, tokens, d_model)`` are taken per ``d_model`` feature over every
token of every series, the same as ``BatchNorm1d`` applied to the transposed ``(n, d_model,
tokens)`` tensor in the official code.

In the engine (``PatchTST``) the network forecasts the per-step increments of the cumulative
target (the next bars' scaled returns, like its input) and the forecaster returns their running
sum; see ``TorchSequenceForecaster``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ai_engine.errors import ConfigError
from ai_engine.models.base import FamilyDescriptor, register
from ai_engine.models.sequence import SequenceNetConfig, TorchSequenceForecaster
from ai_engine.models.torch_utils import Dropout

NORMS = ("batch", "layer")


@dataclass(frozen=True)
class PatchTSTConfig(SequenceNetConfig):
    """PatchTST hyperparameters.

    The defaults are the official settings for the small ETT datasets (d_model 16, 4 heads,
    3 layers, d_ff 128, dropout 0.3, RevIN without affine, BatchNorm, residual attention), chosen
    for the engine because one symbol's history is a small, noisy data set. Training: Adam with
    the official schedule (×0.9 per epoch after epoch 3), MSE loss; the learning rate is 1e-3
    rather than the official 1e-4 because the engine retrains with far fewer epochs.
    """

    d_model: int = 16
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 128
    dropout: float = 0.3
    attn_dropout: float = 0.0
    head_dropout: float = 0.0
    patch_len: int = 16
    stride: int = 8
    revin: bool = True
    affine: bool = False
    res_attention: bool = True
    norm: str = "batch"
    learning_rate: float = 1e-3
    batch_size: int = 128
    loss: str = "mse"
    lr_schedule: str = "patchtst"

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__qualname__
        if min(self.d_model, self.n_heads, self.n_layers, self.d_ff) < 1:
            raise ConfigError(
                f"{name}: d_model, n_heads, n_layers and d_ff must be >= 1, found "
                f"{self.d_model}, {self.n_heads}, {self.n_layers}, {self.d_ff}"
            )
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"{name}: d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.patch_len < 1 or self.stride < 1 or self.patch_len > self.lookback + self.stride:
            raise ConfigError(
                f"{name}: need 1 <= patch_len <= lookback + stride and stride >= 1, found "
                f"patch_len {self.patch_len}, stride {self.stride}, lookback {self.lookback}"
            )
        if self.norm not in NORMS:
            raise ConfigError(f"{name}: norm must be one of {list(NORMS)}, found {self.norm!r}")
        for field_name in ("dropout", "attn_dropout", "head_dropout"):
            value = getattr(self, field_name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name}: {field_name} must be in [0, 1), found {value}")

    @property
    def n_patches(self) -> int:
        """Patches per series with end padding: ``(lookback - patch_len) // stride + 2``."""
        return (self.lookback - self.patch_len) // self.stride + 2


class RevIN(nn.Module):
    """Reversible instance normalisation over the time axis of ``(b, L, c)`` windows."""

    def __init__(self, channels: int, affine: bool, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(b, L, c) -> (normalised (b, L, c), mean (b, 1, c), std (b, 1, c))``."""
        mean = x.mean(dim=1, keepdim=True)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps)
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, mean, std

    def denormalize(self, y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Undo ``normalize`` on ``(b, H, c)`` with the window's statistics."""
        if self.affine:
            y = (y - self.bias) / (self.weight + self.eps * self.eps)
        return y * std + mean


class TokenNorm(nn.Module):
    """BatchNorm1d or LayerNorm over the ``d_model`` features of ``(n, tokens, d_model)``."""

    def __init__(self, d_model: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.norm: nn.Module = nn.BatchNorm1d(d_model) if kind == "batch" else nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layer":
            out: torch.Tensor = self.norm(x)
            return out
        n, t, d = x.shape
        return self.norm(x.reshape(n * t, d)).reshape(n, t, d)


class SelfAttention(nn.Module):
    """Multi-head self-attention ``(n, T, D) -> (n, T, D)``, returning pre-softmax scores too."""

    def __init__(
        self, d_model: int, n_heads: int, attn_dropout: float, proj_dropout: float
    ) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attn_dropout = Dropout(attn_dropout)
        self.out = nn.Linear(d_model, d_model)
        self.proj_dropout = Dropout(proj_dropout)

    def forward(
        self, x: torch.Tensor, prev_scores: torch.Tensor | None, keep_scores: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x (n, T, D)``, ``prev_scores (n, heads, T, T)`` or None -> ``(out, scores)``."""
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores: torch.Tensor | None = None
        if keep_scores or prev_scores is not None:
            scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
            if prev_scores is not None:
                scores = scores + prev_scores
            attn = self.attn_dropout(torch.softmax(scores, dim=-1))
            context = torch.matmul(attn, v)
        else:
            p = self.attn_dropout.p if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=self.scale)
        context = context.transpose(1, 2).reshape(n, t, d)
        return self.proj_dropout(self.out(context)), scores


class EncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer: attention + norm, GELU feed-forward + norm."""

    def __init__(self, config: PatchTSTConfig) -> None:
        super().__init__()
        d = config.d_model
        self.attention = SelfAttention(d, config.n_heads, config.attn_dropout, config.dropout)
        self.dropout_attn = Dropout(config.dropout)
        self.norm_attn = TokenNorm(d, config.norm)
        self.ff = nn.Sequential(
            nn.Linear(d, config.d_ff),
            nn.GELU(),
            Dropout(config.dropout),
            nn.Linear(config.d_ff, d),
        )
        self.dropout_ff = Dropout(config.dropout)
        self.norm_ff = TokenNorm(d, config.norm)

    def forward(
        self, x: torch.Tensor, prev_scores: torch.Tensor | None, keep_scores: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(n, T, D) -> (n, T, D)`` and this layer's attention scores (residual attention)."""
        attended, scores = self.attention(x, prev_scores, keep_scores)
        x = self.norm_attn(x + self.dropout_attn(attended))
        x = self.norm_ff(x + self.dropout_ff(self.ff(x)))
        return x, scores


class PatchTSTNetwork(nn.Module):
    """PatchTST over channel-independent series: ``(b, lookback, c) -> (b, horizon, c)``."""

    def __init__(self, config: PatchTSTConfig) -> None:
        super().__init__()
        self.config = config
        self.n_patches = config.n_patches
        self.revin = RevIN(config.channels, config.affine) if config.revin else None
        self.embed = nn.Linear(config.patch_len, config.d_model)
        self.position = nn.Parameter(
            torch.empty(self.n_patches, config.d_model).uniform_(-0.02, 0.02)
        )
        self.dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layers))
        self.head = nn.Linear(self.n_patches * config.d_model, config.horizon)
        self.head_dropout = Dropout(config.head_dropout)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """End-padded patches: ``(b, L, c) -> (b * c, n_patches, patch_len)``."""
        b, _, c = x.shape
        series = x.permute(0, 2, 1)  # (b, c, L)
        if torch.onnx.is_in_onnx_export():  # the exporter's Unfold needs a static batch size
            return self._onnx_patches(series)
        padded = F.pad(series, (0, self.config.stride), mode="replicate")
        cut = padded.unfold(-1, self.config.patch_len, self.config.stride)
        return cut.reshape(b * c, self.n_patches, self.config.patch_len)

    def _onnx_patches(self, series: torch.Tensor) -> torch.Tensor:
        """``patches`` as a gather, for the ONNX export: ``(b, c, L) -> (b * c, N, P)``."""
        stride, length = self.config.stride, self.config.patch_len
        padded = torch.cat([series, series[..., -1:].expand(-1, -1, stride)], dim=-1)
        starts = torch.arange(self.n_patches) * stride
        cut = padded[..., starts[:, None] + torch.arange(length)[None, :]]  # (b, c, N, P)
        return cut.reshape(-1, self.n_patches, length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(b, lookback, c) -> (b, horizon, c)``."""
        b, _, c = x.shape
        if self.revin is not None:
            x, mean, std = self.revin.normalize(x)
        tokens = self.dropout(self.embed(self.patches(x)) + self.position)  # (b*c, N, D)
        scores: torch.Tensor | None = None
        keep = self.config.res_attention
        for layer in self.layers:
            tokens, scores = layer(tokens, scores, keep)
        out = self.head_dropout(self.head(tokens.flatten(1)))  # (b*c, H)
        y = out.reshape(b, c, -1).permute(0, 2, 1)
        if self.revin is not None:
            y = self.revin.denormalize(y, mean, std)
        return y


class PatchTST(TorchSequenceForecaster):
    """The PatchTST member of the ensemble."""

    family = "patchtst"
    config_class = PatchTSTConfig
    config: PatchTSTConfig

    def build_network(self) -> PatchTSTNetwork:
        return PatchTSTNetwork(self.config)


DESCRIPTOR = register(
    FamilyDescriptor(
        model_class=PatchTST,
        weights_files=PatchTST.weights_files,
        default_weight=0.20,
        presets={
            "quick": {"max_epochs": 3, "patience": 2},
            "default": {},
            "tiny": {
                "d_model": 16,
                "n_heads": 2,
                "n_layers": 1,
                "d_ff": 32,
                "max_epochs": 2,
                "patience": 2,
                "batch_size": 64,
            },
        },
        member=True,
        libraries=("torch", "safetensors"),
    )
)

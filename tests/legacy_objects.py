"""Stand-ins for the older training script: its two networks, written from the issue's
description independently of ``ai_engine.models.legacy``, and a sklearn-like scaler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


class OldNHiTS(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, n_blocks: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Linear(input_dim, hidden_dim),
                    nn.ReLU(),
                    nn.Linear(hidden_dim, hidden_dim),
                    nn.ReLU(),
                )
                for _ in range(n_blocks)
            ]
        )
        self.output_layer = nn.Linear(hidden_dim * n_blocks, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.reshape(x.size(0), -1)
        out: torch.Tensor = self.output_layer(torch.cat([b(x) for b in self.blocks], dim=1))
        return out


class OldPatchTST(nn.Module):
    def __init__(
        self,
        hidden_dim: int,
        output_dim: int,
        n_heads: int,
        n_layers: int,
        patch_len: int,
        stride: int,
    ) -> None:
        super().__init__()
        self.patch_len, self.stride = patch_len, stride
        self.patch_embedding = nn.Linear(patch_len, hidden_dim)
        self.pos_encoding = nn.Parameter(torch.randn(1, 100, hidden_dim))
        layer = nn.TransformerEncoderLayer(
            d_model=hidden_dim, nhead=n_heads, dim_feedforward=hidden_dim * 4, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(
            layer, num_layers=n_layers, enable_nested_tensor=False
        )
        self.output_proj = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x.unfold(1, self.patch_len, self.stride)
        z = self.patch_embedding(patches) + self.pos_encoding[:, : patches.size(1), :]
        out: torch.Tensor = self.output_proj(self.transformer(z).mean(dim=1))
        return out


def old_nhits(seed: int = 0, **sizes: int) -> OldNHiTS:
    torch.manual_seed(seed)
    dims = {"input_dim": 24, "hidden_dim": 16, "output_dim": 12, "n_blocks": 3, **sizes}
    return OldNHiTS(**dims).eval()


def old_patchtst(seed: int = 0, **sizes: int) -> OldPatchTST:
    torch.manual_seed(seed)
    dims = {
        "hidden_dim": 16,
        "output_dim": 12,
        "n_heads": 4,
        "n_layers": 2,
        "patch_len": 8,
        "stride": 4,
        **sizes,
    }
    return OldPatchTST(**dims).eval()


def run(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(module(torch.as_tensor(x, dtype=torch.float32)).numpy(), dtype=float)


class StandardScaler:
    """Carries the fitted attributes of sklearn's StandardScaler (for pickled-scaler tests)."""

    def __init__(self, mean: list[float], scale: list[float]) -> None:
        self.mean_ = np.asarray(mean)
        self.scale_ = np.asarray(scale)
        self.var_ = self.scale_**2
        self.n_features_in_ = len(mean)


class Payload:
    """A pickle that writes ``marker`` when unpickled: it must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))

"""The two network architectures of the older training script, rebuilt exactly, for import.

Checkpoints from that script are converted into bundles (``ai-engine import-legacy``); they are
never trained here and are not ensemble members. Their inputs are the raw values the old
script fed them, not this engine's FeatureSpec features, so both families take a flat
``(n, width)`` input (``input_kind = "tabular"``) and their bundles record a ``legacy-raw``
feature spec (see ``ai_engine.legacy_import``).

``legacy-nhits`` (state_dict keys ``blocks.{i}.0.weight``, ``blocks.{i}.2.weight``,
``output_layer.weight``, ...)::

    blocks       = ModuleList of n_blocks x Sequential(Linear(input_dim, hidden), ReLU,
                                                       Linear(hidden, hidden), ReLU)
    output_layer = Linear(hidden * n_blocks, output_dim)
    forward(x)   = output_layer(cat([block(flatten(x)) for block in blocks], -1))

A 3-D input ``(n, L, c)`` is flattened row-major to ``(n, L * c)``, so ``input_dim = L * c``.

``legacy-patchtst`` (keys ``patch_embedding.*``, ``pos_encoding``, ``transformer.layers.{i}.*``,
``output_proj.*``)::

    patch_embedding = Linear(patch_len, hidden)
    pos_encoding    = Parameter(1, positions (100), hidden)
    transformer     = TransformerEncoder(n_layers x TransformerEncoderLayer(d_model=hidden,
                          nhead=n_heads, dim_feedforward=4 * hidden, batch_first=True))
    output_proj     = Linear(hidden, output_dim)
    forward(x)      = output_proj(pool(transformer(patch_embedding(unfold(x)) + pos[:, :P])))

The weights fix every module; they do not record the forward pass's free choices, which are
therefore explicit config fields, stated at import: the input is one series ``(n, lookback)``
cut into ``P = (lookback - patch_len) // stride + 1`` patches (no padding), and the encoded
patches are pooled by their ``mean`` (or the ``last`` patch) before ``output_proj``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ai_engine.errors import BundleError, ConfigError, WeightsMismatchError
from ai_engine.models.base import (
    FamilyDescriptor,
    Forecaster,
    ForecasterConfig,
    InputKind,
    register,
)
from ai_engine.models.torch_utils import describe_mismatch

WEIGHTS_FILE = "weights.safetensors"
POOLING = ("mean", "last")


def _positive(config: ForecasterConfig, *names: str) -> None:
    bad = {n: getattr(config, n) for n in names if int(getattr(config, n)) < 1}
    if bad:
        raise ConfigError(f"{type(config).__qualname__}: expected values >= 1, found {bad}")


def _horizon_is_output_dim(config: ForecasterConfig, output_dim: int) -> None:
    if config.horizon != output_dim:
        raise ConfigError(
            f"{type(config).__qualname__}: horizon must equal output_dim (the network's outputs), "
            f"found horizon {config.horizon}, output_dim {output_dim}"
        )


@dataclass(frozen=True)
class LegacyNHiTSConfig(ForecasterConfig):
    """The legacy N-HiTS: ``n_blocks`` parallel MLP blocks over the flattened input."""

    input_dim: int = 96
    hidden_dim: int = 256
    output_dim: int = 12
    n_blocks: int = 3

    def __post_init__(self) -> None:
        _positive(self, "input_dim", "hidden_dim", "output_dim", "n_blocks")
        _horizon_is_output_dim(self, self.output_dim)


@dataclass(frozen=True)
class LegacyPatchTSTConfig(ForecasterConfig):
    """The legacy PatchTST: patches of one series, a post-norm Transformer encoder, a pooled
    linear head. ``lookback``, ``stride``, ``n_heads`` and ``pooling`` are not in the weights."""

    lookback: int = 96
    patch_len: int = 16
    stride: int = 8
    hidden_dim: int = 128
    n_heads: int = 4
    n_layers: int = 3
    output_dim: int = 12
    positions: int = 100
    pooling: str = "mean"

    def __post_init__(self) -> None:
        name = type(self).__qualname__
        _positive(
            self,
            "lookback",
            "patch_len",
            "stride",
            "hidden_dim",
            "n_heads",
            "n_layers",
            "output_dim",
            "positions",
        )
        _horizon_is_output_dim(self, self.output_dim)
        if self.hidden_dim % self.n_heads:
            raise ConfigError(
                f"{name}: hidden_dim ({self.hidden_dim}) must be divisible by n_heads "
                f"({self.n_heads})"
            )
        if not 1 <= self.n_patches <= self.positions:
            raise ConfigError(
                f"{name}: lookback {self.lookback}, patch_len {self.patch_len}, stride "
                f"{self.stride} give {self.n_patches} patches; expected 1..{self.positions} "
                f"(the positional encoding's length)"
            )
        if self.pooling not in POOLING:
            raise ConfigError(
                f"{name}: pooling must be one of {list(POOLING)}, found {self.pooling!r}"
            )

    @property
    def n_patches(self) -> int:
        """Patches per input: ``(lookback - patch_len) // stride + 1`` (no padding)."""
        if self.lookback < self.patch_len:
            return 0
        return (self.lookback - self.patch_len) // self.stride + 1


class LegacyNHiTSNetwork(nn.Module):
    """``(n, input_dim)`` or ``(n, L, c)`` with ``L * c = input_dim`` -> ``(n, output_dim)``."""

    def __init__(self, config: LegacyNHiTSConfig) -> None:
        super().__init__()
        hidden = config.hidden_dim
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(config.input_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
            )
            for _ in range(config.n_blocks)
        )
        self.output_layer = nn.Linear(hidden * config.n_blocks, config.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1) if x.dim() > 2 else x
        out: torch.Tensor = self.output_layer(torch.cat([b(flat) for b in self.blocks], dim=-1))
        return out


class LegacyPatchTSTNetwork(nn.Module):
    """``(n, lookback)`` one series -> ``(n, output_dim)``."""

    def __init__(self, config: LegacyPatchTSTConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.patch_embedding = nn.Linear(config.patch_len, hidden)
        self.pos_encoding = nn.Parameter(torch.randn(1, config.positions, hidden))
        layer = nn.TransformerEncoderLayer(
            d_model=hidden, nhead=config.n_heads, dim_feedforward=4 * hidden, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(
            layer, num_layers=config.n_layers, enable_nested_tensor=False
        )
        self.output_proj = nn.Linear(hidden, config.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x.unfold(-1, self.config.patch_len, self.config.stride)  # (n, P, patch_len)
        tokens = self.patch_embedding(patches) + self.pos_encoding[:, : patches.shape[1]]
        encoded = self.transformer(tokens)
        pooled = encoded.mean(dim=1) if self.config.pooling == "mean" else encoded[:, -1]
        out: torch.Tensor = self.output_proj(pooled)
        return out


class _LegacyForecaster(Forecaster):
    """Shared plumbing: a network built from the config, weights in safetensors, no training."""

    input_kind: ClassVar[InputKind] = "tabular"

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__(config)
        self.network_: nn.Module | None = None

    def build_network(self) -> nn.Module:
        raise NotImplementedError

    def _fresh(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return self.build_network().eval()

    def load_state(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a state_dict strictly: every key and shape must match the built architecture."""
        network = self._fresh()
        problem = describe_mismatch(network.state_dict(), state)
        if problem:
            raise WeightsMismatchError(
                f"weights {source} do not fit the {self.family} built from config "
                f"{self.config.to_dict()}: {problem}"
            )
        network.load_state_dict(dict(state), strict=True)
        self.network_ = network.eval()

    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        raise ConfigError(
            f"{self.family} is imported from a checkpoint (ai-engine import-legacy), never trained"
        )

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self.network_ is None:
            raise BundleError(f"{self.family}: no weights yet (load them first)")
        with torch.inference_mode():
            out = self.network_(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return np.asarray(out.numpy(), dtype=np.float64)

    def save_weights(self, folder: Path) -> None:
        if self.network_ is None:
            raise BundleError(f"{self.family}: no weights to save")
        state = {k: v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        save_file(state, str(Path(folder) / WEIGHTS_FILE))

    def load_weights(self, folder: Path) -> None:
        path = Path(folder) / WEIGHTS_FILE
        try:
            state = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for bad files
            raise WeightsMismatchError(
                f"{WEIGHTS_FILE} is not readable safetensors ({exc}); "
                f"config {self.config.to_dict()}"
            ) from exc
        self.load_state(state, WEIGHTS_FILE)

    def parameter_count(self) -> int:
        network = self.network_ if self.network_ is not None else self._fresh()
        return sum(p.numel() for p in network.parameters())

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Key -> shape of the architecture's state_dict (what a checkpoint must hold)."""
        return {k: tuple(v.shape) for k, v in self._fresh().state_dict().items()}

    @staticmethod
    def config_from(values: dict[str, Any]) -> dict[str, Any]:
        """Config values with ``horizon`` set to ``output_dim``."""
        return {**values, "horizon": values["output_dim"]}


class LegacyNHiTS(_LegacyForecaster):
    """The legacy N-HiTS, imported from an old checkpoint."""

    family = "legacy-nhits"
    config_class = LegacyNHiTSConfig
    config: LegacyNHiTSConfig

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.input_dim,)

    def build_network(self) -> nn.Module:
        return LegacyNHiTSNetwork(self.config)


class LegacyPatchTST(_LegacyForecaster):
    """The legacy PatchTST, imported from an old checkpoint."""

    family = "legacy-patchtst"
    config_class = LegacyPatchTSTConfig
    config: LegacyPatchTSTConfig

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.lookback,)

    def build_network(self) -> nn.Module:
        return LegacyPatchTSTNetwork(self.config)


def _legacy(model_class: type[_LegacyForecaster]) -> FamilyDescriptor:
    """Imported, never trained: not a default member; presets are empty."""
    return FamilyDescriptor(
        model_class=model_class,
        weights_files=(WEIGHTS_FILE,),
        default_weight=0.20,
        presets={"quick": {}, "default": {}},
        trainable=False,
        libraries=("torch", "safetensors"),
    )


DESCRIPTORS = (register(_legacy(LegacyNHiTS)), register(_legacy(LegacyPatchTST)))

"""N-HiTS (Challu et al., AAAI 2023): hierarchical interpolation over multi-rate input sampling.

The network is ``n_stacks`` stacks of ``n_blocks`` blocks. Every block of stack ``s``:

1. max-pools its input window (length ``lookback``) with kernel = stride = ``pool_kernel_sizes[s]``
   (``ceil_mode``, so ``ceil(lookback / k)`` values): multi-rate input sampling;
2. runs an MLP (``mlp_units`` hidden layers, ReLU, optional dropout) over the pooled values;
3. emits ``lookback`` backcast values and ``max(horizon // n_freq_downsample[s], 1)`` forecast
   coefficients, which are interpolated (linear by default) to ``horizon`` steps:
   hierarchical interpolation.

Blocks are doubly residual: the input of each block is the previous block's input minus its
backcast, and the forecast is the sum of every block's forecast (plus the last input value when
``naive_level`` is on, as in the reference code of N-BEATS/N-HiTS for level series). As in the
reference code, the window is reversed (most recent value first) before the blocks, so each
pooling window is aligned on the most recent bar.

Channels are forecast univariately with one shared model: ``(b, L, c)`` is folded to
``(b * c, L)`` and unfolded again.

In the engine (``NHiTS``) the network forecasts the per-step increments of the cumulative target
(the next bars' scaled returns, like its input) and the forecaster returns their running sum;
see ``TorchSequenceForecaster``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ai_engine.errors import ConfigError
from ai_engine.models.base import FamilyDescriptor, register
from ai_engine.models.sequence import SequenceNetConfig, TorchSequenceForecaster
from ai_engine.models.torch_utils import Dropout

INTERPOLATION_MODES = ("linear", "nearest")


@dataclass(frozen=True)
class NHiTSConfig(SequenceNetConfig):
    """N-HiTS hyperparameters.

    ``mlp_units`` are the hidden widths of every block's MLP. The default, two layers of 512,
    is neuralforecast's default width (and the paper's); per-stack pooling and downsampling are
    neuralforecast's defaults too. Training follows the paper: Adam, lr 1e-3, MAE loss.
    """

    n_stacks: int = 3
    n_blocks: int = 1
    mlp_units: tuple[int, ...] = (512, 512)
    pool_kernel_sizes: tuple[int, ...] = (2, 2, 1)
    n_freq_downsample: tuple[int, ...] = (4, 2, 1)
    interpolation: str = "linear"
    dropout: float = 0.0
    naive_level: bool = False
    learning_rate: float = 1e-3
    batch_size: int = 256
    loss: str = "mae"

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__qualname__
        if self.n_stacks < 1 or self.n_blocks < 1 or not self.mlp_units:
            raise ConfigError(
                f"{name}: need n_stacks >= 1, n_blocks >= 1 and at least one MLP layer, found "
                f"{self.n_stacks}, {self.n_blocks}, {self.mlp_units}"
            )
        for field_name in ("pool_kernel_sizes", "n_freq_downsample"):
            values = getattr(self, field_name)
            if len(values) != self.n_stacks or any(int(v) < 1 for v in values):
                raise ConfigError(
                    f"{name}: {field_name} needs {self.n_stacks} positive values (one per stack), "
                    f"found {list(values)}"
                )
        if any(int(u) < 1 for u in self.mlp_units):
            raise ConfigError(f"{name}: mlp_units must be positive, found {list(self.mlp_units)}")
        if self.interpolation not in INTERPOLATION_MODES:
            raise ConfigError(
                f"{name}: interpolation must be one of {list(INTERPOLATION_MODES)}, "
                f"found {self.interpolation!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{name}: dropout must be in [0, 1), found {self.dropout}")

    def pooled_sizes(self) -> tuple[int, ...]:
        """Length of each stack's pooled input: ``ceil(lookback / kernel)``."""
        return tuple(math.ceil(self.lookback / k) for k in self.pool_kernel_sizes)

    def n_knots(self) -> tuple[int, ...]:
        """Forecast coefficients per stack: ``max(horizon // downsample, 1)``."""
        return tuple(max(self.horizon // d, 1) for d in self.n_freq_downsample)


class NHiTSBlock(nn.Module):
    """One block: pool ``(n, L) -> (n, ceil(L/k))``, MLP, backcast ``(n, L)``, forecast ``(n, H)``.

    ``n_knots`` forecast coefficients are interpolated to the ``horizon`` steps.
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        pool_kernel: int,
        n_knots: int,
        mlp_units: tuple[int, ...],
        dropout: float,
        interpolation: str,
    ) -> None:
        super().__init__()
        self.lookback = lookback
        self.horizon = horizon
        self.pool_kernel = pool_kernel
        self.n_knots = n_knots
        self.interpolation = interpolation
        self.pooled_size = math.ceil(lookback / pool_kernel)
        layers: list[nn.Module] = []
        width = self.pooled_size
        for units in mlp_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = units
        self.mlp = nn.Sequential(*layers)
        self.theta = nn.Linear(width, lookback + n_knots)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Max-pool ``(n, L) -> (n, ceil(L / k))``."""
        if self.pool_kernel == 1:
            return x
        return F.max_pool1d(
            x.unsqueeze(1), self.pool_kernel, stride=self.pool_kernel, ceil_mode=True
        ).squeeze(1)

    def interpolate(self, knots: torch.Tensor) -> torch.Tensor:
        """Forecast coefficients ``(n, knots) -> (n, horizon)``."""
        if self.n_knots == self.horizon:
            return knots
        return F.interpolate(
            knots.unsqueeze(1), size=self.horizon, mode=self.interpolation
        ).squeeze(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, L) -> (backcast (n, L), forecast (n, H))``."""
        theta = self.theta(self.mlp(self.pool(x)))
        return theta[:, : self.lookback], self.interpolate(theta[:, self.lookback :])


class NHiTSNetwork(nn.Module):
    """N-HiTS over channel-independent series: ``(b, lookback, c) -> (b, horizon, c)``."""

    def __init__(self, config: NHiTSConfig) -> None:
        super().__init__()
        self.config = config
        self.naive_level = config.naive_level
        self.blocks = nn.ModuleList(
            NHiTSBlock(
                lookback=config.lookback,
                horizon=config.horizon,
                pool_kernel=kernel,
                n_knots=knots,
                mlp_units=tuple(config.mlp_units),
                dropout=config.dropout,
                interpolation=config.interpolation,
            )
            for kernel, knots in zip(config.pool_kernel_sizes, config.n_knots(), strict=True)
            for _ in range(config.n_blocks)
        )

    def forward_series(self, series: torch.Tensor) -> torch.Tensor:
        """Univariate forecast ``(n, lookback) -> (n, horizon)``."""
        residual = series.flip(-1)
        if self.naive_level:
            forecast = series[:, -1:].expand(-1, self.config.horizon)
        else:
            forecast = series.new_zeros(series.shape[0], self.config.horizon)
        for block in self.blocks:
            backcast, block_forecast = block(residual)
            residual = residual - backcast
            forecast = forecast + block_forecast
        return forecast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(b, lookback, c) -> (b, horizon, c)``, every channel through the same blocks."""
        b, length, c = x.shape
        if c == 1:
            return self.forward_series(x[..., 0]).unsqueeze(-1)
        series = x.permute(0, 2, 1).reshape(b * c, length)
        return self.forward_series(series).reshape(b, c, -1).permute(0, 2, 1)


class NHiTS(TorchSequenceForecaster):
    """The N-HiTS member of the ensemble."""

    family = "nhits"
    config_class = NHiTSConfig
    config: NHiTSConfig

    def build_network(self) -> NHiTSNetwork:
        return NHiTSNetwork(self.config)


DESCRIPTOR = register(
    FamilyDescriptor(
        model_class=NHiTS,
        weights_files=NHiTS.weights_files,
        default_weight=0.20,
        presets={
            "quick": {"max_epochs": 4, "patience": 2},
            "default": {},
            "tiny": {"mlp_units": [32, 32], "max_epochs": 2, "patience": 2, "batch_size": 64},
        },
        member=True,
        libraries=("torch", "safetensors"),
    )
)

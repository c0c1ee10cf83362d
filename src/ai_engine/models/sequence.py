"""The Forecaster side shared by the PyTorch sequence families (N-HiTS, PatchTST).

``SequenceNetConfig`` is the base of their configs: the input window (``lookback`` bars of
``channels`` series) plus the training hyperparameters of ``TrainHyperparameters``.
``TorchSequenceForecaster`` holds what the families share as forecasters: seeded network
building, fitting on per-step increments of the cumulative target with ``train_network``, the
single-row fast predict path, the safetensors weights file and its ONNX export (``model.onnx``,
served through ONNX Runtime for batches of up to ``MAX_ROWS`` rows once it is checked against
the eager network; see ``onnx_runtime``). A family subclasses both and implements
``build_network``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ai_engine.errors import BundleError, ConfigError
from ai_engine.models.base import Forecaster, ForecasterConfig, InputKind
from ai_engine.models.onnx_runtime import (
    MAX_ROWS,
    ONNX_FILE,
    ONNX_RTOL,
    OnnxNetwork,
    export_onnx,
    relative_difference,
    threads,
)
from ai_engine.models.torch_utils import load_weights_strict, save_weights
from ai_engine.models.training_loop import (
    EvalReport,
    TrainHyperparameters,
    TrainSettings,
    train_network,
)

__all__ = ["FirstChannel", "SequenceNetConfig", "TorchSequenceForecaster", "window_scales"]

WINDOW_SCALE_FLOOR = 0.05
"""Smallest per-window scale, in units of the global scaler's standard deviation: a window
of (almost) unchanged prices is not blown up."""


def window_scales(x: np.ndarray) -> np.ndarray:
    """Per-window scale ``(n, 1, 1)``: the RMS of channel 0 over the lookback, floored."""
    rms = np.sqrt(np.mean(np.square(x[:, :, :1], dtype=np.float64), axis=1, keepdims=True))
    return np.maximum(rms, WINDOW_SCALE_FLOOR).astype(np.float32)


@dataclass(frozen=True)
class SequenceNetConfig(TrainHyperparameters, ForecasterConfig):
    """Fields every PyTorch sequence family has: the input window and the training fields.

    The training fields (``learning_rate``, ``batch_size``, ``max_epochs``, ``patience``,
    ``loss``, ``lr_schedule``, ``precision``) and their defaults are ``TrainHyperparameters``'s;
    ``seed`` is ``ForecasterConfig``'s. A bad value raises ``ConfigError``.
    """

    lookback: int = 96
    channels: int = 1
    window_scale: bool = False
    """Divide each input window and its target by the window's own RMS (channel 0, after the
    global scaler; at least ``WINDOW_SCALE_FLOOR``) and multiply the output back: windows of
    series with different volatility then weigh alike in the loss (pooled training). False in
    bundles made before the field existed."""

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.lookback < 1 or self.channels < 1:
            raise ConfigError(
                f"{type(self).__qualname__}: horizon, lookback and channels must be >= 1, found "
                f"{self.horizon}, {self.lookback}, {self.channels}"
            )
        try:
            super().__post_init__()
        except ConfigError as exc:
            raise ConfigError(f"{type(self).__qualname__}: {exc}") from exc

    def train_settings(self) -> TrainSettings:
        """The ``TrainSettings`` these hyperparameters describe (seeded with ``seed``)."""
        return TrainSettings.from_hyperparameters(self, seed=self.seed)


class TorchSequenceForecaster(Forecaster):
    """Forecaster plumbing shared by N-HiTS and PatchTST.

    The network maps ``(batch, lookback, channels) -> (batch, horizon, channels)``, each channel
    forecast as its own series with shared weights. Channel 0 is the traded series: the
    forecaster's output is channel 0's forecast.

    Target: the network forecasts the per-step increments of the scaled cumulative target,
    ``np.diff(y, prepend=0)`` (the future per-bar returns, the same kind of series as its input,
    as in both papers); the forecaster returns their running sum, the cumulative forward return.
    """

    input_kind: ClassVar[InputKind] = "sequence"
    weights_files: ClassVar[tuple[str, ...]] = ("weights.safetensors",)
    config: SequenceNetConfig

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__(config)
        self.network_: nn.Module | None = None
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._compiled_for: nn.Module | None = None
        """``compile_predict``'s network for one row, and the eager network it was made from."""
        self._onnx: OnnxNetwork | None = None
        self._onnx_for: nn.Module | None = None
        """``attach_onnx``'s session, and the eager network it was checked against."""
        self.runtime_reason: str | None = "not loaded from a bundle: eager torch"
        """Why batches run in eager torch rather than ONNX Runtime; None when they do not."""
        self.on_eval: Callable[[EvalReport], None] | None = None
        """Optional progress callback, called after every validation check during ``fit``."""

    @abstractmethod
    def build_network(self) -> nn.Module:
        """A freshly initialised network for ``self.config``."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.config.lookback, self.config.channels)

    def _seeded_network(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            network = self.build_network()
        return network.eval()

    def _network(self) -> nn.Module:
        if self.network_ is None:
            raise BundleError(f"{self.family}: no weights yet (call fit or load_weights first)")
        return self.network_

    def _fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        network = self._seeded_network()
        steps = np.diff(y, axis=1, prepend=0.0).astype(np.float32)
        steps_val = np.diff(y_val, axis=1, prepend=0.0).astype(np.float32)
        if self.config.window_scale:
            scale, scale_val = window_scales(x), window_scales(x_val)
            x, steps = x / scale, steps / scale[:, 0]
            x_val, steps_val = x_val / scale_val, steps_val / scale_val[:, 0]
        with torch.random.fork_rng(devices=[]):
            result = train_network(
                FirstChannel(network),
                x,
                steps,
                x_val,
                steps_val,
                self.config.train_settings(),
                on_eval=self.on_eval,
            )
        self.network_ = network.eval()
        self.fit_info_ = {**result.to_dict(), "target": "per-step increments, summed"}

    def _predict(self, x: np.ndarray) -> np.ndarray:
        network = self._network()
        scale = window_scales(x) if self.config.window_scale else None
        if scale is not None:
            x = x / scale
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        onnx = self._onnx if len(x) <= MAX_ROWS and self._onnx_for is network else None
        if onnx is not None:
            out = np.cumsum(onnx(inputs)[..., 0], axis=1)
            return out if scale is None else out * scale[:, 0]
        return self._predict_torch(network, torch.from_numpy(inputs), scale)

    def _predict_torch(
        self, network: nn.Module, inputs: torch.Tensor, scale: np.ndarray | None
    ) -> np.ndarray:
        """Eager (or compiled, one row) forecast ``(n, L, c) -> (n, H)`` of scaled inputs."""
        compiled = self._compiled if len(inputs) == 1 and self._compiled_for is network else None
        with torch.inference_mode():
            try:
                steps = (network if compiled is None else compiled)(inputs)[..., 0]
            except Exception:
                if compiled is None:
                    raise
                self._compiled = None  # a compiled network that fails once runs eager from now
                steps = network(inputs)[..., 0]
            out = torch.cumsum(steps, dim=1).numpy()
        return out if scale is None else out * scale[:, 0]

    @property
    def inference(self) -> dict[str, object]:
        """How ``predict`` runs: ``{"runtime": "onnxruntime" | "torch", "reason", "threads",
        "max_rows"}`` (``reason``: why torch; None with ONNX Runtime)."""
        onnx = self._onnx if self._onnx_for is self.network_ else None
        if onnx is None:
            return {"runtime": "torch", "reason": self.runtime_reason or "eager torch"}
        return {
            "runtime": "onnxruntime",
            "reason": None,
            "threads": onnx.threads,
            "max_rows": MAX_ROWS,
        }

    def export_onnx(self, folder: Path) -> None:
        """Write ``model.onnx`` into ``folder``: the network, ``(b, L, c) -> (b, H, c)``.

        A session attached before is dropped (the weights may have changed in place since it
        was checked): predictions, the probe's included, run eager until the next load."""
        self._onnx, self.runtime_reason = None, "saved since loaded: eager torch"
        export_onnx(self._network(), self.input_shape, Path(folder) / ONNX_FILE)

    def attach_onnx(self, folder: Path, listed: bool, probe: np.ndarray) -> None:
        """Serve batches of up to ``MAX_ROWS`` rows from ``folder``'s ``model.onnx`` (its
        checksum already verified when ``listed``) when its forecasts on ``probe`` (raw
        inputs ``(n, L, c)``; each row alone and all together) equal eager ones within
        ``ONNX_RTOL`` relative; else stay eager with the reason in ``runtime_reason``. As with
        ``compile_predict``, the weights must not change in place afterwards."""
        network, self._onnx = self._network(), None
        if self.scaler_ is None:
            raise BundleError(f"{self.family}: attach_onnx before the scaler is loaded")
        if not listed:
            self.runtime_reason = f"no {ONNX_FILE} in the bundle (saved before ONNX export)"
            return
        x = self.scaler_.transform(probe)
        groups = [x[i : i + 1] for i in range(len(x))] + [x]
        eager = np.concatenate([self._predict(group) for group in groups])
        try:
            self._onnx = OnnxNetwork((Path(folder) / ONNX_FILE).read_bytes(), threads())
            self._onnx_for = network
            found = np.concatenate([self._predict(group) for group in groups])
        except Exception as exc:  # onnxruntime missing, unreadable graph, unsupported op
            self._onnx = None
            self.runtime_reason = f"{ONNX_FILE} does not run: {type(exc).__name__}: {exc}"[:300]
            return
        difference = relative_difference(found, eager)
        if difference > ONNX_RTOL:
            self._onnx = None
            self.runtime_reason = (
                f"{ONNX_FILE} differs from the eager network by {difference:.3g} relative on "
                f"the probe (tolerance {ONNX_RTOL:g})"
            )
            return
        self.runtime_reason = None

    def compile_predict(self) -> str | None:
        """Compile the network for one-row predictions (opt-in: ``AI_ENGINE_TORCH_COMPILE``).

        ``torch.compile`` (inductor, C++ kernels and wrapper, weights frozen as constants) at a
        batch of one, the serving case; other batch sizes stay eager. The compiled network's
        answers are checked against eager ones (float32 rounding apart: relative 1e-4) before it
        is used. Returns None when compiled, else why not (predictions then stay eager). Costs
        seconds per network (a C++ compiler at work); the weights must not change afterwards
        (``fit`` / ``load_weights`` make a new network, which runs eager until compiled again).
        """
        network = self._network()
        shape = (1, *self.input_shape)
        probes = torch.zeros(shape), torch.randn(shape, generator=torch.Generator().manual_seed(0))
        try:
            compiled = torch.compile(
                network, dynamic=False, options={"cpp_wrapper": True, "freezing": True}
            )
            with torch.inference_mode():
                pairs = [(compiled(p).numpy(), network(p).numpy()) for p in probes]
        except Exception as exc:  # inductor: no compiler, unsupported op, ...
            return f"torch.compile failed: {type(exc).__name__}: {str(exc)[:200]}"
        for found, eager in pairs:
            if not np.allclose(found, eager, rtol=1e-4, atol=1e-4 * float(np.abs(eager).max())):
                worst = float(np.abs(found - eager).max())
                return f"compiled network differs from eager by up to {worst:.3g}"
        self._compiled, self._compiled_for = compiled, network
        return None

    def save_weights(self, folder: Path) -> None:
        save_weights(self._network(), Path(folder) / self.weights_files[0])

    def load_weights(self, folder: Path) -> None:
        network = self._seeded_network()
        load_weights_strict(network, Path(folder) / self.weights_files[0], self.config.to_dict())
        self.network_ = network.eval()

    def parameter_count(self) -> int:
        network = self.network_ if self.network_ is not None else self._seeded_network()
        return sum(p.numel() for p in network.parameters())


class FirstChannel(nn.Module):
    """Training view of a channel-independent network: ``(b, L, c) -> (b, H)`` of channel 0."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.network(x)
        return out[..., 0]

"""The one seeded training loop of the PyTorch families (N-HiTS, PatchTST), and their weights I/O.

``train_network(module, x_train, y_train, x_val, y_val, settings)`` trains any module mapping
``x (batch, *input) -> (batch, *target)`` with Adam on seeded mini-batches, evaluates the
validation loss at the end of every epoch (or every ``val_every_steps`` steps), stops early after
``patience`` evaluations without improvement, and restores the best-validation weights before it
returns. On a CPU the same seed and the same number of torch threads give bit-identical weights.

Learning-rate schedules:

- ``"constant"``: the learning rate throughout.
- ``"patchtst"``: the official PatchTST schedule (its ``type3``): epoch ``k`` (0-based) uses
  ``lr * 0.9 ** max(0, k - 3)``.
- ``"step"``: N-HiTS / neuralforecast style, halved ``lr_decays`` times at evenly spaced steps of
  ``max_steps`` (or of ``max_epochs`` epochs when there is no step cap).

``precision="bf16"`` runs the training forward passes under bfloat16 autocast (weights, optimiser
state, loss and validation stay float32): about twice as fast on CPUs with AVX512-BF16/AMX, much
slower on CPUs without them, so it is opt-in. The papers' reproductions use float32.

``save_weights`` / ``load_weights_strict`` move a module's ``state_dict`` through safetensors; a
strict load that does not fit raises ``WeightsMismatchError`` naming the missing keys, the
unexpected keys, the shape differences and the config the module was built from.

``SequenceNetConfig`` and ``TorchSequenceForecaster`` hold what the two families share as
forecasters: the input window and training fields, seeded network building, fitting on per-step
increments of the cumulative target, the single-row fast predict path and the weights file.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ai_engine.errors import BundleError, ConfigError, WeightsMismatchError
from ai_engine.models.base import Forecaster, ForecasterConfig, InputKind

LossName = Literal["mse", "mae"]
ScheduleName = Literal["constant", "patchtst", "step"]
Precision = Literal["fp32", "bf16"]

__all__ = [
    "Dropout",
    "EvalReport",
    "SequenceNetConfig",
    "TorchSequenceForecaster",
    "TrainResult",
    "TrainSettings",
    "as_tensor",
    "load_weights_strict",
    "predict_batched",
    "save_weights",
    "set_seed",
    "train_network",
]


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout``, with masks that are ~3x cheaper to draw on a CPU.

    ``nn.Dropout`` draws one Bernoulli variate per element, which costs more than the matmuls
    of a small Transformer on a CPU. Here every 64-bit word from torch's (seeded) generator gives
    four 15-bit uniform draws; an element is kept when its draw is >= ``round(p * 32768)``, so
    the drop probability is ``p`` to within 1/65536. Kept elements are scaled by ``1/(1 - p)``.
    No parameters or buffers: state dicts are those of ``nn.Dropout``. Off the CPU, and in eval
    mode, it is ``F.dropout``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), found {p}")
        self.p = float(p)
        self.threshold = round(self.p * 32768)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any shape to the same shape."""
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()
        draws = words.view(torch.int16)[:n] & 0x7FFF
        keep = (draws >= self.threshold).view(x.shape)
        return x * (keep.to(x.dtype) * (1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_seed(seed: int) -> torch.Generator:
    """Seed torch's global generator (weight init, dropout) and return a fresh generator for
    mini-batch shuffling seeded from the same value."""
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@dataclass(frozen=True)
class TrainSettings:
    """How to train: optimiser, batching, stopping rules, schedule and loss."""

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 10
    loss: LossName = "mse"
    lr_schedule: ScheduleName = "constant"
    lr_decays: int = 3
    max_steps: int | None = None
    time_limit_s: float | None = None
    val_every_steps: int | None = None
    eval_batch_size: int = 2048
    weight_decay: float = 0.0
    grad_clip_norm: float | None = None
    precision: Precision = "fp32"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', found {self.precision!r}")
        if self.loss not in ("mse", "mae"):
            raise ValueError(f"loss must be 'mse' or 'mae', found {self.loss!r}")
        if self.lr_schedule not in ("constant", "patchtst", "step"):
            raise ValueError(
                f"lr_schedule must be 'constant', 'patchtst' or 'step', found {self.lr_schedule!r}"
            )
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError(
                "batch_size, max_epochs and patience must be >= 1, found "
                f"{self.batch_size}, {self.max_epochs}, {self.patience}"
            )


@dataclass(frozen=True)
class EvalReport:
    """One validation check, handed to the ``on_eval`` callback."""

    epoch: int
    step: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    improved: bool
    learning_rate: float
    seconds: float


@dataclass
class TrainResult:
    """What ``train_network`` did; ``best_*`` describe the weights left in the module."""

    epochs_run: int
    steps: int
    best_epoch: int
    best_step: int
    best_val_loss: float
    stopped: str
    seconds: float
    history: list[EvalReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the per-evaluation history)."""
        return {
            "epochs_run": self.epochs_run,
            "steps": self.steps,
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "best_val_loss": self.best_val_loss,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def as_tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 CPU tensor sharing memory with ``array`` where possible."""
    if isinstance(array, torch.Tensor):
        return array.to(torch.float32)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _loss_fn(name: LossName) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.mse_loss if name == "mse" else nn.functional.l1_loss


def _make_optimizer(module: nn.Module, settings: TrainSettings) -> torch.optim.Adam:
    params = [p for p in module.parameters() if p.requires_grad]
    on_cpu = all(p.device.type == "cpu" for p in params)
    # The fused kernel is the fastest Adam on a CPU and is deterministic.
    try:
        return torch.optim.Adam(
            params,
            lr=settings.learning_rate,
            weight_decay=settings.weight_decay,
            fused=True if on_cpu else None,
        )
    except (RuntimeError, TypeError):  # pragma: no cover - depends on the torch build
        return torch.optim.Adam(
            params, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )


def _epoch_lr(settings: TrainSettings, epoch: int, step: int, steps_per_epoch: int) -> float:
    lr = settings.learning_rate
    if settings.lr_schedule == "patchtst":
        return lr * 0.9 ** max(0, epoch - 3)
    if settings.lr_schedule == "step":
        total = settings.max_steps or settings.max_epochs * steps_per_epoch
        period = max(1, total // max(1, settings.lr_decays))
        return lr * 0.5 ** min(settings.lr_decays, step // period)
    return lr


@torch.inference_mode()
def predict_batched(
    module: nn.Module, x: torch.Tensor, batch_size: int = 2048, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Run ``module`` in eval mode over ``x`` in batches; returns the outputs on the CPU."""
    was_training = module.training
    module.eval()
    outs = [
        module(x[i : i + batch_size].to(device, non_blocking=True)).cpu()
        for i in range(0, x.shape[0], batch_size)
    ]
    module.train(was_training)
    return torch.cat(outs)


@torch.inference_mode()
def _evaluate(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: LossName,
    batch_size: int,
    device: torch.device,
) -> float:
    """Mean loss over every element of the validation set (no dropped last batch)."""
    module.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        pred = module(x[i : i + batch_size].to(device))
        diff = pred - y[i : i + batch_size].to(device)
        total += float((diff * diff).sum() if loss == "mse" else diff.abs().sum())
    module.train()
    return total / max(1, y.numel())


def train_network(
    module: nn.Module,
    x_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    x_val: np.ndarray | torch.Tensor,
    y_val: np.ndarray | torch.Tensor,
    settings: TrainSettings,
    *,
    device: torch.device | str = "cpu",
    on_eval: Callable[[EvalReport], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``module`` in place and restore its best-validation weights.

    Shapes: ``x_train (n, *in)``, ``y_train (n, *out)``, ``x_val (m, *in)``, ``y_val (m, *out)``;
    ``module(x_batch)`` must return ``(batch, *out)``. The data stay on the CPU; each mini-batch
    is moved to ``device``. Mini-batches are drawn without replacement from a permutation made
    by a generator seeded with ``settings.seed``; the last partial batch of an epoch is kept.
    ``on_eval`` is called after every validation check, ``on_step(step, loss)`` after every
    optimisation step (progress bars, timing).
    """
    dev = torch.device(device)
    xt, yt, xv, yv = (as_tensor(a) for a in (x_train, y_train, x_val, y_val))
    if xt.shape[0] != yt.shape[0] or xv.shape[0] != yv.shape[0]:
        raise ValueError(
            f"inputs and targets differ in length: train {xt.shape[0]} vs {yt.shape[0]}, "
            f"validation {xv.shape[0]} vs {yv.shape[0]}"
        )
    if xt.shape[0] == 0 or xv.shape[0] == 0:
        raise ValueError("train_network needs at least one training and one validation row")
    generator = set_seed(settings.seed)
    module.to(dev)
    module.train()
    optimizer = _make_optimizer(module, settings)
    loss_fn = _loss_fn(settings.loss)
    n = xt.shape[0]
    steps_per_epoch = math.ceil(n / settings.batch_size)
    bf16 = settings.precision == "bf16"
    started = time.perf_counter()

    best_val = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = best_step = -1
    bad_evals = 0
    step = 0
    epoch = 0
    stopped = "max_epochs"
    history: list[EvalReport] = []
    running = 0.0
    running_count = 0

    def check(epoch_index: int) -> bool:
        """Validate; keep the best state; True when training must stop for patience."""
        nonlocal best_val, best_state, best_epoch, best_step, bad_evals, running, running_count
        val = _evaluate(module, xv, yv, settings.loss, settings.eval_batch_size, dev)
        improved = val < best_val
        if improved:
            best_val, best_epoch, best_step, bad_evals = val, epoch_index, step, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            bad_evals += 1
        report = EvalReport(
            epoch=epoch_index,
            step=step,
            train_loss=running / max(1, running_count),
            val_loss=val,
            best_val_loss=best_val,
            improved=improved,
            learning_rate=float(optimizer.param_groups[0]["lr"]),
            seconds=time.perf_counter() - started,
        )
        history.append(report)
        running, running_count = 0.0, 0
        if on_eval is not None:
            on_eval(report)
        return bad_evals >= settings.patience

    for epoch in range(settings.max_epochs):
        if settings.lr_schedule == "patchtst":
            for group in optimizer.param_groups:
                group["lr"] = _epoch_lr(settings, epoch, step, steps_per_epoch)
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, settings.batch_size):
            if settings.lr_schedule == "step":
                for group in optimizer.param_groups:
                    group["lr"] = _epoch_lr(settings, epoch, step, steps_per_epoch)
            idx = order[start : start + settings.batch_size]
            xb = xt.index_select(0, idx).to(dev, non_blocking=True)
            yb = yt.index_select(0, idx).to(dev, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                out = module(xb)
            loss = loss_fn(out.float(), yb)
            loss.backward()
            if settings.grad_clip_norm is not None:
                nn.utils.clip_grad_norm_(module.parameters(), settings.grad_clip_norm)
            optimizer.step()
            step += 1
            loss_value = float(loss.detach())
            running += loss_value
            running_count += 1
            if on_step is not None:
                on_step(step, loss_value)
            periodic = settings.val_every_steps is not None and step % settings.val_every_steps == 0
            if periodic and check(epoch):
                stopped = "patience"
            elif settings.max_steps is not None and step >= settings.max_steps:
                stopped = "max_steps"
            elif (
                settings.time_limit_s is not None
                and time.perf_counter() - started >= settings.time_limit_s
            ):
                stopped = "time_limit"
            if stopped != "max_epochs":
                break
        stop = stopped != "max_epochs"
        pending = settings.val_every_steps is None or (stop and running_count > 0)
        if pending and check(epoch) and not stop:
            stopped = "patience"
        if stopped != "max_epochs":
            break

    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return TrainResult(
        epochs_run=epoch + 1,
        steps=step,
        best_epoch=best_epoch,
        best_step=best_step,
        best_val_loss=best_val,
        stopped=stopped,
        seconds=time.perf_counter() - started,
        history=history,
    )


def save_weights(module: nn.Module, path: Path) -> None:
    """Write ``module.state_dict()`` to ``path`` as safetensors (contiguous CPU tensors)."""
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def describe_mismatch(
    expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]
) -> str | None:
    """None when keys and shapes agree, else the missing, unexpected and reshaped keys."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(
        f"{k}: expected {tuple(expected[k].shape)}, found {tuple(found[k].shape)}"
        for k in set(expected) & set(found)
        if tuple(expected[k].shape) != tuple(found[k].shape)
    )
    if not (missing or unexpected or shapes):
        return None
    return f"missing keys {missing}; unexpected keys {unexpected}; shape differences {shapes}"


def load_weights_strict(
    module: nn.Module, path: Path, config: Mapping[str, Any] | None = None
) -> None:
    """Load safetensors weights into ``module``; every key and shape must match exactly.

    Raises ``WeightsMismatchError`` with a one-line message naming the missing keys, the
    unexpected keys, the shape differences and ``config`` (the dict the module was built from).
    """
    where = f"{path}"
    try:
        found = load_file(str(path))
    except FileNotFoundError as exc:
        raise WeightsMismatchError(f"weights file {where} not found; config {config}") from exc
    except Exception as exc:  # safetensors raises its own error type for corrupt files
        raise WeightsMismatchError(
            f"weights file {where} is not readable safetensors ({exc}); config {config}"
        ) from exc
    expected = module.state_dict()
    problem = describe_mismatch(expected, found)
    if problem:
        raise WeightsMismatchError(
            f"weights {where} do not fit the architecture built from config {config}: {problem}"
        )
    module.load_state_dict(found, strict=True)


# --------------------------------------------------------------------------------------------
# The Forecaster side shared by the sequence families
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceNetConfig(ForecasterConfig):
    """Fields every PyTorch sequence family has: input window and training settings."""

    lookback: int = 96
    channels: int = 1
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 50
    patience: int = 5
    loss: str = "mse"
    lr_schedule: str = "constant"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.lookback < 1 or self.channels < 1:
            raise ConfigError(
                f"{type(self).__qualname__}: horizon, lookback and channels must be >= 1, found "
                f"{self.horizon}, {self.lookback}, {self.channels}"
            )
        try:
            self.train_settings()
        except ValueError as exc:
            raise ConfigError(f"{type(self).__qualname__}: {exc}") from exc

    def train_settings(self) -> TrainSettings:
        """The ``TrainSettings`` these hyperparameters describe."""
        return TrainSettings(
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            loss=self.loss,  # type: ignore[arg-type]  # validated in TrainSettings
            lr_schedule=self.lr_schedule,  # type: ignore[arg-type]
            precision=self.precision,  # type: ignore[arg-type]
            seed=self.seed,
        )


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
        with torch.random.fork_rng(devices=[]):
            result = train_network(
                _FirstChannel(network),
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
        with torch.inference_mode():
            steps = network(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))[..., 0]
            return torch.cumsum(steps, dim=1).numpy()

    def save_weights(self, folder: Path) -> None:
        save_weights(self._network(), Path(folder) / self.weights_files[0])

    def load_weights(self, folder: Path) -> None:
        network = self._seeded_network()
        load_weights_strict(network, Path(folder) / self.weights_files[0], self.config.to_dict())
        self.network_ = network.eval()

    def parameter_count(self) -> int:
        network = self.network_ if self.network_ is not None else self._seeded_network()
        return sum(p.numel() for p in network.parameters())


class _FirstChannel(nn.Module):
    """Training view of a channel-independent network: ``(b, L, c) -> (b, H)`` of channel 0."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.network(x)
        return out[..., 0]

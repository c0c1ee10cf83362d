"""The one seeded training loop of the PyTorch families (N-HiTS, PatchTST), and its settings.

``train_network(module, x_train, y_train, x_val, y_val, settings)`` trains any module mapping
``x (batch, *input) -> (batch, *target)`` with Adam on seeded mini-batches, evaluates the
validation loss at the end of every epoch (or every ``val_every_steps`` steps), stops early after
``patience`` evaluations without improvement, and restores the best-validation weights before it
returns. On a CPU the same seed and the same number of torch threads give bit-identical weights.

Settings: ``TrainHyperparameters`` declares, once, the training fields that a sequence family's
config carries (``SequenceNetConfig`` inherits them); ``TrainSettings``, the loop's one settings
type, adds the knobs only scripts set (step caps, time limit, clipping, ...) and the seed.

Learning-rate schedules:

- ``"constant"``: the learning rate throughout.
- ``"patchtst"``: the official PatchTST schedule (its ``type3``): epoch ``k`` (0-based) uses
  ``lr * 0.9 ** max(0, k - 3)``.
- ``"step"``: N-HiTS / neuralforecast style, halved ``lr_decays`` times at evenly spaced steps of
  ``max_steps`` (or of ``max_epochs`` epochs when there is no step cap).

``precision="bf16"`` runs the training forward passes under bfloat16 autocast (weights, optimiser
state, loss and validation stay float32): about twice as fast on CPUs with AVX512-BF16/AMX, much
slower on CPUs without them, so it is opt-in. The papers' reproductions use float32.

``torch_compile=True`` trains through ``torch.compile`` (inductor; on a CPU it needs a C++
compiler): the same float32 maths with elementwise work fused, and dropout masks from a
counter-based hash (``torch_utils.hashed_keep``). It costs a one-off compilation (tens of seconds
on a small CPU), so it pays only for long runs and is opt-in. Full batches go through the compiled
module, a last partial batch through the plain one (no recompilation). If compilation fails, the
step is redone without it and training goes on uncompiled (``TrainResult.compiled`` says which).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Self

import numpy as np
import torch
from torch import nn

from ai_engine.errors import ConfigError, DataValidationError
from ai_engine.models.torch_utils import as_tensor, set_seed

LossName = Literal["mse", "mae"]
ScheduleName = Literal["constant", "patchtst", "step"]
Precision = Literal["fp32", "bf16"]
LOSSES: tuple[LossName, ...] = ("mse", "mae")
SCHEDULES: tuple[ScheduleName, ...] = ("constant", "patchtst", "step")
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")

_LOG = logging.getLogger(__name__)

__all__ = [
    "EvalReport",
    "TrainHyperparameters",
    "TrainResult",
    "TrainSettings",
    "predict_batched",
    "train_network",
]


@dataclass(frozen=True)
class TrainHyperparameters:
    """The training fields a model config carries: optimiser, batching, stopping, loss.

    ``loss`` is one of ``LOSSES``, ``lr_schedule`` one of ``SCHEDULES``, ``precision`` one of
    ``PRECISIONS`` (plain ``str`` so configs read from JSON type-check; validated here). A bad
    value raises ``ConfigError``. ``torch_compile`` trains through ``torch.compile`` (module
    docstring).
    """

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 50
    patience: int = 5
    loss: str = "mse"
    lr_schedule: str = "constant"
    precision: str = "fp32"
    torch_compile: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be 'fp32' or 'bf16', found {self.precision!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be 'mse' or 'mae', found {self.loss!r}")
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(
                f"lr_schedule must be 'constant', 'patchtst' or 'step', found {self.lr_schedule!r}"
            )
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError(
                "batch_size, max_epochs and patience must be >= 1, found "
                f"{self.batch_size}, {self.max_epochs}, {self.patience}"
            )


@dataclass(frozen=True)
class TrainSettings(TrainHyperparameters):
    """How ``train_network`` trains: the hyperparameters, script-only knobs and the seed.

    ``lr_decays`` halvings for the ``"step"`` schedule; ``max_steps`` / ``time_limit_s`` cap the
    run; ``val_every_steps`` validates every so many steps instead of every epoch;
    ``eval_batch_size`` batches validation; ``weight_decay`` is Adam's; ``grad_clip_norm`` clips
    the global gradient norm; ``seed`` seeds the mini-batch order and dropout.
    """

    lr_decays: int = 3
    max_steps: int | None = None
    time_limit_s: float | None = None
    val_every_steps: int | None = None
    eval_batch_size: int = 2048
    weight_decay: float = 0.0
    grad_clip_norm: float | None = None
    seed: int = 0

    @classmethod
    def from_hyperparameters(cls, hyperparameters: TrainHyperparameters, seed: int) -> Self:
        """Settings with every ``TrainHyperparameters`` field taken from ``hyperparameters``."""
        values = {f.name: getattr(hyperparameters, f.name) for f in fields(TrainHyperparameters)}
        return cls(**values, seed=seed)


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
    compiled: bool = False

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
            "compiled": self.compiled,
        }


def _loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
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


def _compile(module: nn.Module) -> nn.Module | None:
    """``torch.compile(module)`` for training (static shapes), or None where torch lacks it.

    ``fallback_random`` keeps the few random draws left in the graph (the dropout hash keys) on
    torch's own generator, drawn once per call rather than inside every kernel loop.
    """
    try:
        compiled: nn.Module = torch.compile(  # type: ignore[assignment]
            module, dynamic=False, options={"fallback_random": True}
        )
    except Exception as exc:  # pragma: no cover - depends on the torch build
        _LOG.warning("torch.compile unavailable (%s); training uncompiled", exc)
        return None
    return compiled


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
    loss: str,
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


def _forward_backward(
    fn: Callable[[torch.Tensor], torch.Tensor],
    xb: torch.Tensor,
    yb: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    bf16: bool,
) -> torch.Tensor:
    """Loss of ``fn(xb (batch, *in))`` against ``yb (batch, *out)``, gradients accumulated."""
    with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = fn(xb)
    loss = loss_fn(out.float(), yb)
    loss.backward()
    return loss


def _state_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``module.state_dict()`` (to undo a failed first compiled step)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


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
        raise DataValidationError(
            f"inputs and targets differ in length: train {xt.shape[0]} vs {yt.shape[0]}, "
            f"validation {xv.shape[0]} vs {yv.shape[0]}"
        )
    if xt.shape[0] == 0 or xv.shape[0] == 0:
        raise DataValidationError(
            "train_network expects at least one training and one validation row, found "
            f"{xt.shape[0]} and {xv.shape[0]}"
        )
    generator = set_seed(settings.seed)
    module.to(dev)
    module.train()
    optimizer = _make_optimizer(module, settings)
    loss_fn = _loss_fn(settings.loss)
    n = xt.shape[0]
    steps_per_epoch = math.ceil(n / settings.batch_size)
    bf16 = settings.precision == "bf16"
    compiled = _compile(module) if settings.torch_compile else None
    compile_checked = False
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
            use = compiled if compiled is not None and xb.shape[0] == settings.batch_size else None
            if use is not None and not compile_checked:  # the call that compiles: may fail
                compile_checked = True
                rng, saved = torch.get_rng_state(), _state_copy(module)
                try:
                    loss = _forward_backward(use, xb, yb, loss_fn, bf16)
                except Exception as exc:  # no C++ compiler, unsupported op, ...
                    _LOG.warning("torch.compile failed (%s); training uncompiled", exc)
                    compiled = None
                    torch.set_rng_state(rng)
                    module.load_state_dict(saved)
                    optimizer.zero_grad(set_to_none=True)
                    loss = _forward_backward(module, xb, yb, loss_fn, bf16)
            else:
                loss = _forward_backward(module if use is None else use, xb, yb, loss_fn, bf16)
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
        compiled=compiled is not None and compile_checked,
    )

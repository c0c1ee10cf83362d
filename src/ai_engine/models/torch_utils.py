"""Small PyTorch helpers shared by the torch families: dropout, seeding, threads, weights I/O.

- ``Dropout``: inverted dropout with masks ~3x cheaper to draw on a CPU than ``nn.Dropout``'s.
- ``set_seed`` / ``torch_threads``: the seeding and thread count that make CPU training
  bit-reproducible.
- ``as_tensor``: numpy or torch input as a float32 CPU tensor.
- ``save_weights`` / ``load_weights_strict`` move a module's ``state_dict`` through safetensors;
  a strict load that does not fit raises ``WeightsMismatchError`` naming the missing keys, the
  unexpected keys, the shape differences and the config the module was built from
  (``describe_mismatch`` builds that message).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ai_engine.errors import ConfigError, WeightsMismatchError

__all__ = [
    "Dropout",
    "as_tensor",
    "describe_mismatch",
    "hashed_keep",
    "load_weights_strict",
    "save_weights",
    "set_seed",
    "torch_threads",
]


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout``, with masks that are ~3x cheaper to draw on a CPU.

    ``nn.Dropout`` draws one Bernoulli variate per element, which costs more than the matmuls
    of a small Transformer on a CPU. Here every 64-bit word from torch's (seeded) generator gives
    four 15-bit uniform draws; an element is kept when its draw is >= ``round(p * 32768)``, so
    the drop probability is ``p`` to within 1/65536. Kept elements are scaled by ``1/(1 - p)``.
    No parameters or buffers: state dicts are those of ``nn.Dropout``. Off the CPU, and in eval
    mode, it is ``F.dropout``.

    Under ``torch.compile`` (``random_`` cannot be traced, and inductor's own per-element random
    numbers cost more than the whole rest of a PatchTST step on a CPU) the masks come from
    ``hashed_keep``: a 32-bit integer hash of each element's index keyed by two draws of torch's
    generator, which inductor fuses into the surrounding elementwise kernels. Same seed, same
    masks; not the same masks as the eager path.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), found {p}")
        self.p = float(p)
        self.threshold = round(self.p * 32768)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any shape to the same shape."""
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu" or x.numel() >= 2**31:
            return nn.functional.dropout(x, self.p, True)
        if torch.compiler.is_compiling():
            keep = hashed_keep(x.shape, self.p).to(x.dtype)
            return x * (keep * (1.0 / (1.0 - self.p)))
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()
        draws = words.view(torch.int16)[:n] & 0x7FFF
        keep = (draws >= self.threshold).view(x.shape)
        return x * (keep.to(x.dtype) * (1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _mix32(h: torch.Tensor) -> torch.Tensor:
    """Wellons' ``lowbias32`` integer hash on int32 lanes (wrapping products, logical shifts)."""
    h = h ^ ((h >> 16) & 0xFFFF)
    h = h * 0x7FEB352D
    h = h ^ ((h >> 15) & 0x1FFFF)
    h = h * -2073254261  # 0x846CA68B as a signed 32-bit constant
    return h ^ ((h >> 16) & 0xFFFF)


def hashed_keep(shape: torch.Size, p: float) -> torch.Tensor:
    """Int32 keep-mask of ``shape``: 1 with probability ``1 - p`` (to within 2**-24), else 0.

    The draw of element ``i`` is 24 bits of ``mix(mix(i ^ k0) ^ k1)``, with ``(k0, k1)`` two
    int32 draws of torch's global generator: counter-based, so a compiler fuses it into the
    kernel that uses it. Integer arithmetic only (no bool tensor: inductor stores bool masks
    slowly on a CPU). Fewer than ``2**31`` elements.
    """
    key = torch.randint(-(2**31), 2**31, (2,), dtype=torch.int32)
    index = torch.arange(shape.numel(), dtype=torch.int32).view(shape)
    h = _mix32(_mix32(index ^ key[0]) ^ key[1])
    # draw - threshold is negative (sign bit 1) exactly when the element is dropped.
    return (((h >> 8) & 0xFFFFFF) - round(p * 2**24) >> 31) + 1


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


def as_tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 CPU tensor (same shape) sharing memory with ``array`` where possible."""
    if isinstance(array, torch.Tensor):
        return array.to(torch.float32)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


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

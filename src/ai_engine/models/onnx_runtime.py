"""ONNX Runtime for the sequence families' small batches: exported at save, verified at load.

A PyTorch member's bundle holds ``model.onnx`` beside ``weights.safetensors`` (ONNX protobuf,
no pickle, listed in the manifest with its sha256 like every other file). ``export_onnx``
writes it at save time with the TorchScript-based exporter (opset 17, a dynamic batch axis).
At load, ``OnnxNetwork`` runs it in an ``InferenceSession`` with ``intra_op_num_threads`` from
the service's threads setting (``AI_ENGINE_THREADS``, default 1; ``set_threads``), and the
forecaster serves batches of up to ``MAX_ROWS`` rows through it only when its forecasts on
the bundle's probe inputs equal the eager network's within ``ONNX_RTOL`` relative
(``relative_difference``); otherwise, or when the file is missing (bundles written before the
export existed), it stays eager and says why.

Why: at batch 1 the networks' eager forward is mostly per-op dispatch (45-90 torch ops for
0.4-2 MFLOP); ONNX Runtime runs the same graph in a fraction of the time, and stays faster
up to the batcher's 64 rows (benchmarks/RESULTS.md, issue 26). Importing this module imports
neither torch nor onnxruntime.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "MAX_ROWS",
    "ONNX_FILE",
    "ONNX_RTOL",
    "OnnxNetwork",
    "export_onnx",
    "relative_difference",
    "set_threads",
    "threads",
]

ONNX_FILE = "model.onnx"
ONNX_RTOL = 1e-5
"""Largest accepted ``max |onnx - eager| / max |eager|`` on the bundle's probe inputs."""
MAX_ROWS = 64
"""Batches of up to this many rows go through ONNX Runtime (faster than eager torch at every
size measured, 1 to 64 rows, one thread); larger ones (backtests, evaluation) stay in torch."""
OPSET = 17

_THREADS = [max(1, int(os.environ.get("AI_ENGINE_THREADS", "1") or 1))]


def set_threads(count: int) -> None:
    """Intra-op threads of the sessions made from now on (the service's ``threads``)."""
    _THREADS[0] = max(1, int(count))


def threads() -> int:
    """Intra-op threads a new ``OnnxNetwork`` gets: ``AI_ENGINE_THREADS`` or ``set_threads``."""
    return _THREADS[0]


def export_onnx(network: nn.Module, input_shape: tuple[int, ...], path: Path) -> None:
    """Write ``network`` (eval mode, ``(b, *input_shape) -> (b, horizon, channels)``) to
    ``path`` as ONNX with a dynamic batch axis; the file is fsynced. Raises on failure."""
    import torch

    network = network.eval()
    example = torch.zeros((1, *input_shape), dtype=torch.float32)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic
        torch.onnx.export(
            network,
            (example,),
            path,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


class OnnxNetwork:
    """One network in an ONNX Runtime session: ``(b, L, c)`` float32 -> ``(b, H, c)`` float32.

    ``run`` is safe to call from several threads at once (ONNX Runtime's guarantee).
    """

    def __init__(self, model: bytes, intra_op_threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # threads that wait spinning starve the other workers of a busy machine
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.threads = intra_op_threads
        self.session: Any = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(b, L, c)`` float32 (C-contiguous) -> ``(b, H, c)`` float32."""
        out: np.ndarray = self.session.run(None, {"x": x})[0]
        return out


def relative_difference(found: np.ndarray, expected: np.ndarray) -> float:
    """``max |found - expected| / max |expected|`` (inf when shapes differ or not finite)."""
    if found.shape != expected.shape or not np.all(np.isfinite(found)):
        return float("inf")
    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(found.astype(np.float64) - expected))) / scale

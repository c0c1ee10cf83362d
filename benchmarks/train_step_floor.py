"""The arithmetic floor of one training step: its matrix multiplies alone, timed in isolation.

For the two networks that ``vs_neuralforecast.py`` times (batch 256, lookback 96, horizon 12):
every ``nn.Linear`` of a step costs three GEMMs of the same size (forward ``x W^T``, weight
gradient ``dy^T x``, input gradient ``dy W``), PatchTST's attention a few small batched ones.
This script times exactly those GEMMs (float32, ``--threads`` torch threads, median of
``--repeats`` passes) and a large square GEMM for the machine's attainable rate. No step of
either library can be faster than its GEMMs, so ``floor / neuralforecast's step`` is the
smallest ratio reachable at equal float32 work.

    .venv/bin/python benchmarks/train_step_floor.py [--threads 2] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

BATCH, LOOKBACK, HORIZON = 256, 96, 12
Shape = tuple[int, int, int]  # (rows M, in features K, out features N) of one Linear


def nhits_linears(width: int = 512, layers: int = 4) -> list[Shape]:
    """N-HiTS, neuralforecast defaults: 3 stacks, pooling (2, 2, 1), downsampling (4, 2, 1)."""
    shapes: list[Shape] = []
    for pooled, knots in ((48, 3), (48, 6), (96, 12)):
        shapes.append((BATCH, pooled, width))
        shapes += [(BATCH, width, width)] * (layers - 1)
        shapes.append((BATCH, width, LOOKBACK + knots))
    return shapes


def patchtst_linears() -> list[Shape]:
    """PatchTST d_model 128, d_ff 256, 3 layers, 12 patches of 16: 3,072 tokens per batch."""
    tokens = BATCH * 12
    layer = [(tokens, 128, 384), (tokens, 128, 128), (tokens, 128, 256), (tokens, 256, 128)]
    return [(tokens, 16, 128), *layer * 3, (BATCH, 12 * 128, HORIZON)]


def gemms(shapes: list[Shape]) -> tuple[list[Callable[[], torch.Tensor]], float]:
    """The forward and both backward GEMMs of every Linear, and their FLOPs."""
    calls: list[Callable[[], torch.Tensor]] = []
    for m, k, n in shapes:
        x, w, dy = torch.randn(m, k), torch.randn(n, k), torch.randn(m, n)
        calls += [partial(torch.mm, x, w.t()), partial(torch.mm, dy.t(), x)]
        calls.append(partial(torch.mm, dy, w))
    return calls, float(sum(6 * m * k * n for m, k, n in shapes))


def attention_gemms() -> list[Callable[[], torch.Tensor]]:
    """PatchTST's 3 layers of (1024 heads x 12 x 12) scores and context, forward and backward."""
    q, k, v, g = (torch.randn(BATCH * 4, 12, 32) for _ in range(4))
    a, ga = torch.randn(BATCH * 4, 12, 12), torch.randn(BATCH * 4, 12, 12)
    one = [
        lambda: q @ k.transpose(1, 2),
        lambda: a @ v,
        lambda: ga @ k,
        lambda: ga.transpose(1, 2) @ q,
        lambda: g @ v.transpose(1, 2),
        lambda: a.transpose(1, 2) @ g,
    ]
    return one * 3


def median_ms(calls: list[Callable[[], torch.Tensor]], repeats: int) -> float:
    """Median wall time in ms of one pass over ``calls`` (after 5 warm-up passes)."""
    times = []
    for i in range(repeats + 5):
        start = time.perf_counter()
        for call in calls:
            call()
        if i >= 5:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out: dict[str, float] = {"load_before": os.getloadavg()[0]}
    for name, shapes in (("nhits_4x512", nhits_linears()), ("patchtst", patchtst_linears())):
        calls, flops = gemms(shapes)
        ms = median_ms(calls, args.repeats)
        out[f"{name}_gemm_ms"], out[f"{name}_gflop"] = ms, flops / 1e9
        out[f"{name}_gflops_per_s"] = flops / ms / 1e6
    out["patchtst_attention_bmm_ms"] = median_ms(attention_gemms(), args.repeats)
    big_a, big_b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    ms = median_ms([lambda: big_a @ big_b], max(3, args.repeats // 3))
    out["square_2048_gflops_per_s"] = 2 * 2048**3 / ms / 1e6
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()

"""In-process cost of one signal's stages, per member: what a batch-1 request pays for models.

Usage: python benchmarks/member_predict.py --registry DIR [--release production] [--calls 2000]
       [--candles 256] [--rows 1] [--threads 1] [--compile] [--out FILE]
       [--compare REF [--rounds 3] [--preset quick]]

Trains nothing: give it a registry made by ``ai-engine demo --registry DIR``. Candles are the
last N bars of the demo's S&P 500 data. Torch's intra-op threads are set to ``--threads``
(the service's ``AI_ENGINE_THREADS``, default 1) before anything is timed. For every member,
``predict`` on ``--rows`` rows (the service's micro-batch; 1 for a lone request or the stream
endpoint) is called ``--calls`` times after a warm-up; the median wall time and the median
CPU time of the calling thread (less sensitive to a busy machine) are reported in µs, as are
the median thread-CPU µs of each when the members run one after the other as for a request
(``in_turn_cpu_us``: each then finds the others' weights in the caches), and the other
stages of ``/v1/signal`` in process: candle validation from arrays, the 22 features
(``latest_inputs``), the four models through ``Engine.forecasts_many`` and ``signal_from``.
``validate_cold``, ``models_cold`` and ``signal_cold`` (validation from arrays; the four
models; ``Engine.signal`` from validated candles: features, models, decision) are timed with
the caches emptied before each call.
``--compile`` first compiles the PyTorch members for one-row predictions, as
``AI_ENGINE_TORCH_COMPILE=1`` does in the service (and reports how long that took).

Prints one JSON line and appends it to ``--out`` (benchmarks/results/member_predict.jsonl).

``--compare REF`` runs this script once per side and round in a fresh process, this checkout
and commit REF (a temporary ``git worktree``, ``PYTHONPATH`` at its ``src``) alternating for
``--rounds`` rounds: one line per run with its ``commit`` and ``side``, then a summary with the
ratios (this / REF) of the medians. A REF that cannot load the release trains its own demo
release (``--preset``) with its own code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import ValidationSettings, demo_candles, make_candles
from ai_engine.engine import Engine
from ai_engine.features import latest_inputs

RESULTS = Path(__file__).parent / "results" / "member_predict.jsonl"
COMPARED = (
    "members_sum_wall_us",
    "members_us.xgboost.cpu_us",
    "members_us.lightgbm.cpu_us",
    "members_us.nhits.cpu_us",
    "members_us.patchtst.cpu_us",
    "members_us.nhits.in_turn_cpu_us",
    "members_us.patchtst.in_turn_cpu_us",
    "stages_us.validate.cpu_us",
    "stages_us.features.cpu_us",
    "stages_us.models.cpu_us",
    "stages_us.signal_from.cpu_us",
    "stages_us.models_cold.cpu_us",
    "stages_us.signal_cold.cpu_us",
)
"""The report's values whose medians ``--compare`` sets side by side (ratio this / reference)."""


def timed(
    call: Callable[[], object], calls: int, warmup: int = 50, *, cold: bool = False
) -> dict[str, float]:
    """Median wall and thread-CPU µs of ``call`` over ``calls`` runs after ``warmup``. With
    ``cold`` the caches are emptied before every run (a 64 MB read, more than this machine's
    last-level cache; not timed): what a request pays when other work ran since the last one,
    as at 100 req/s on a shared machine."""
    flush = np.ones((64 << 20) // 8) if cold else None
    for _ in range(warmup):
        call()
    wall, cpu = [], []
    for _ in range(calls):
        if flush is not None:
            flush.sum()
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu.append(time.thread_time_ns() - c0)
        wall.append(time.perf_counter_ns() - w0)
    return {
        "wall_us": round(statistics.median(wall) / 1000, 1),
        "cpu_us": round(statistics.median(cpu) / 1000, 1),
    }


def in_turn(calls: list[Callable[[], object]], rounds: int, warmup: int = 50) -> list[float]:
    """Median thread-CPU µs of each of ``calls`` when they run one after the other, as the
    members do for a request (each evicts the others' weights from the caches)."""
    for _ in range(warmup):
        for call in calls:
            call()
    cpu: list[list[int]] = [[] for _ in calls]
    for _ in range(rounds):
        for k, call in enumerate(calls):
            c0 = time.thread_time_ns()
            call()
            cpu[k].append(time.thread_time_ns() - c0)
    return [round(statistics.median(c) / 1000, 1) for c in cpu]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True)
    parser.add_argument("--release", default="production")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--candles", type=int, default=256)
    parser.add_argument("--rows", type=int, default=1, help="rows per predict (micro-batch)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--compile", action="store_true", help="compile the PyTorch members")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--compare", metavar="REF", help="also measure commit REF, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side with --compare")
    parser.add_argument("--preset", default="quick", help="--compare: REF's own demo release")
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return

    engine = Engine.load(args.registry, args.release, threads=args.threads)
    torch.set_num_threads(args.threads)
    compiled: dict[str, Any] | None = None
    if args.compile:
        start = time.perf_counter()
        outcome = engine.compile_predict()
        compiled = {"seconds": round(time.perf_counter() - start, 1), "members": outcome}
    frame = demo_candles().frame.iloc[-args.candles :]
    settings = ValidationSettings(min_rows=engine.required_candles)
    candles = make_candles(frame, "SP500", "1d", settings)
    inputs = latest_inputs(candles.frame, engine.spec)
    batch = [inputs] * args.rows

    members: dict[str, dict[str, float]] = {}
    predicts: list[Callable[[], object]] = []
    for member in engine.members:
        if member.bundle is None:
            continue
        model = member.bundle.model
        x = np.concatenate([inputs.of_kind(model.input_kind)] * args.rows)
        members[member.family] = timed(lambda m=model, x=x: m.predict(x), args.calls)
        predicts.append(lambda m=model, x=x: m.predict(x))
    for family, cpu_us in zip(members, in_turn(predicts, args.calls), strict=True):
        members[family]["in_turn_cpu_us"] = cpu_us
    forecasts = engine.forecasts_many([inputs])[0]
    times = frame.index.asi8.copy()
    values = frame[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
    cold_calls = max(args.calls // 10, 20)
    stages = {
        "validate": timed(
            lambda: candles_from_arrays(times, values, "SP500", "1d", settings, "b"), args.calls
        ),
        "features": timed(lambda: latest_inputs(candles.frame, engine.spec), args.calls),
        "models": timed(lambda: engine.forecasts_many(batch), args.calls),
        "signal_from": timed(lambda: engine.signal_from(candles, forecasts, inputs), args.calls),
        "validate_cold": timed(
            lambda: candles_from_arrays(times, values, "SP500", "1d", settings, "b"),
            cold_calls,
            5,
            cold=True,
        ),
        "models_cold": timed(lambda: engine.forecasts_many(batch), cold_calls, 5, cold=True),
        "signal_cold": timed(lambda: engine.signal(candles), cold_calls, 5, cold=True),
    }
    report = {
        "benchmark": "member_predict",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "release": engine.release.id,
        "rows": args.rows,
        "candles": args.candles,
        "torch_threads": torch.get_num_threads(),
        "compiled": compiled,
        "members_us": members,
        "members_sum_wall_us": round(sum(m["wall_us"] for m in members.values()), 1),
        "stages_us": stages,
        "versions": {
            "torch": torch.__version__,
            "xgboost": _version("xgboost"),
            "lightgbm": _version("lightgbm"),
        },
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    line = json.dumps(report)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        out.write(line + "\n")


def compare(args: argparse.Namespace) -> None:
    """This checkout and ``args.compare``, one fresh process per side and round, alternating."""
    from compare_ref import Side, head_side, loads_release, ref_side, run_rounds
    from load_service import ensure_demo_release

    head = head_side()
    own: list[str] = ["--release", args.release, "--calls", str(args.calls)]
    own += [
        "--candles",
        str(args.candles),
        "--rows",
        str(args.rows),
        "--threads",
        str(args.threads),
    ]
    own += ["--compile"] if args.compile else []
    with tempfile.TemporaryDirectory() as temp, ref_side(args.compare) as ref:
        registries, extra = {}, {}
        for side in (head, ref):
            refused = loads_release(side, Path(args.registry), args.release)
            registries[side.name] = Path(args.registry)
            if refused is not None:
                print(f"{side.name} ({side.commit}) cannot load the release: {refused}")
                registries[side.name] = Path(temp) / side.name / "registry"
                ensure_demo_release(registries[side.name], args.preset, side.env)
            extra[side.name] = {
                "argv": sys.argv[1:],
                "registry": "shared" if refused is None else "own",
            }

        def one(side: Side, round_: int) -> dict[str, Any]:
            out = Path(temp) / f"{side.name}-{round_}.jsonl"
            command = [sys.executable, __file__, "--registry", str(registries[side.name])]
            subprocess.run([*command, *own, "--out", str(out)], env=side.env, check=True)
            report: dict[str, Any] = json.loads(out.read_text().splitlines()[-1])
            return report

        run_rounds("member_predict", (head, ref), args.rounds, one, COMPARED, args.out, extra)


def _version(name: str) -> str | None:
    module = sys.modules.get(name)
    return getattr(module, "__version__", None) if module is not None else None


if __name__ == "__main__":
    main()

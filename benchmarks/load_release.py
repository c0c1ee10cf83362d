"""Time loading and verifying a four-model release: every bundle check, probe replay included.

    .venv/bin/python benchmarks/load_release.py [--registry DIR] [--data FILE] [--repeats N]

If DIR has no ``production`` release, one is trained first with the CLI's quick preset
(``ai-engine train --preset quick --data FILE --registry DIR --promote``, printed). Then
``Engine.load(DIR, "production")`` runs ``--repeats`` times in this process: the first run also
pays the lazy imports of torch, xgboost and lightgbm (reported as "first"), the median is taken
over the others. ``--fresh N`` also times N loads in new processes (interpreter start and every
import included). The target is a median of at most 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "crypto" / "ETH_BTC-5m.feather"
DEFAULT_REGISTRY = Path(__file__).resolve().parent / "out" / "load_release" / "registry"
FRESH = """
import sys, time
start = time.perf_counter()
import lightgbm, torch, xgboost
from ai_engine.engine import Engine
imported = time.perf_counter()
engine = Engine.load(sys.argv[1], "production")
assert engine.healthy_count == 4, [m.reason for m in engine.members]
print(time.perf_counter() - start, imported - start)
"""


def ensure_release(registry: Path, data: Path) -> None:
    if (registry / "aliases" / "production.json").is_file():
        return
    command = [
        str(Path(sys.executable).with_name("ai-engine")),
        "train",
        "--preset",
        "quick",
        "--data",
        str(data),
        "--registry",
        str(registry),
        "--promote",
    ]
    print("training:", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"trained in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--fresh", type=int, default=3)
    args = parser.parse_args()
    ensure_release(args.registry, args.data)

    from ai_engine.engine import Engine

    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        engine = Engine.load(args.registry, "production")
        times.append(time.perf_counter() - started)
        assert engine.healthy_count == 4, [m.reason for m in engine.members]
    warm = times[1:]
    print(
        f"release {engine.release.id}: {len(engine.members)} models "
        f"({', '.join(m.family for m in engine.members)}), all checks incl. probe replay"
    )
    print(f"first load in this process (lazy imports included): {times[0]:.3f} s")
    print(
        f"median of {len(warm)} further loads: {statistics.median(warm):.3f} s "
        f"(min {min(warm):.3f}, max {max(warm):.3f})"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", FRESH, str(args.registry)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for _ in range(args.fresh)
    ]
    if runs:
        total = statistics.median(float(r[0]) for r in runs)
        imports = statistics.median(float(r[1]) for r in runs)
        print(
            f"fresh process (median of {len(runs)}): {total:.3f} s, of which importing torch, "
            f"xgboost, lightgbm and ai_engine {imports:.3f} s"
        )


if __name__ == "__main__":
    main()

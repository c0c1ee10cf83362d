"""``--compare REF`` for the benchmarks: this checkout and a reference commit, side by side.

The reference is checked out with ``git worktree add`` into a temporary folder (removed at the
end, also on failure) and run with ``PYTHONPATH`` at its ``src`` (the venv is shared; the
editable install's path comes after ``PYTHONPATH``). This checkout runs with ``PYTHONPATH`` at
its own ``src``. The rounds alternate the two sides (``head`` first in even rounds, ``ref``
first in odd ones) so that a change in the machine's load hits both; each line carries its
``commit``, and one summary line gives the ratios (this checkout / reference) of the medians.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Side:
    """One code under test: ``head`` (this checkout) or ``ref``."""

    name: str
    commit: str
    root: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment that makes ``python -m ai_engine...`` import this side's code."""
        return {**os.environ, "PYTHONPATH": str(self.root / "src")}


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def head_side() -> Side:
    """This checkout; its commit says ``+ working tree`` when ``src`` has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD")
    if _git("status", "--porcelain", "--", "src"):
        commit += " + working tree"
    return Side("head", commit, REPO)


@contextmanager
def ref_side(ref: str) -> Iterator[Side]:
    """A detached worktree of ``ref`` in a temporary folder, removed when the block ends."""
    commit = _git("rev-parse", "--short", f"{ref}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix="ai-engine-ref-"))
    root = folder / commit
    _git("worktree", "add", "--detach", str(root), commit)
    try:
        yield Side("ref", commit, root)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(root)], cwd=REPO, check=False)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def loads_release(side: Side, registry: Path, release: str = "production") -> str | None:
    """None when ``side``'s code loads ``release`` with every member healthy, else why not."""
    probe = (
        "import sys\nfrom ai_engine.engine import Engine\n"
        "engine = Engine.load(sys.argv[1], sys.argv[2])\n"
        "sick = [m.family for m in engine.members if not m.healthy]\n"
        "sys.exit(f'unhealthy members: {sick}' if sick else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(registry), release],
        env=side.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def order(round_: int, sides: tuple[Side, Side]) -> tuple[Side, Side]:
    """The sides in the order they run in ``round_`` (alternating)."""
    return sides if round_ % 2 == 0 else (sides[1], sides[0])


def pick(report: Mapping[str, Any], key: str) -> float | None:
    """``report``'s value at a dotted ``key`` (``stages_us.models.cpu_us``), if numeric."""
    value: Any = report
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def summary(
    benchmark: str,
    sides: tuple[Side, Side],
    reports: Mapping[str, list[dict[str, Any]]],
    keys: tuple[str, ...],
) -> dict[str, Any]:
    """Medians of ``keys`` over each side's rounds and their ratios, this checkout / reference."""
    medians: dict[str, dict[str, float]] = {}
    for side in sides:
        medians[side.name] = {}
        for key in keys:
            values = [v for r in reports[side.name] if (v := pick(r, key)) is not None]
            if values:
                medians[side.name][key] = statistics.median(values)
    ratio = {
        key: round(medians["head"][key] / medians["ref"][key], 3)
        for key in keys
        if key in medians["head"] and medians["ref"].get(key)
    }
    return {
        "benchmark": benchmark,
        "summary": "compare",
        "commit": sides[0].commit,
        "ref_commit": sides[1].commit,
        "rounds": len(reports["head"]),
        "ratio": ratio,
        "head_median": medians["head"],
        "ref_median": medians["ref"],
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def run_rounds(
    benchmark: str,
    sides: tuple[Side, Side],
    rounds: int,
    measure: Callable[[Side, int], dict[str, Any]],
    keys: tuple[str, ...],
    out: Path | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``measure(side, round)`` for both sides, alternating, ``rounds`` times; print each
    line (``commit``, ``side``, ``round`` and ``extra`` added) and the summary, and append
    them to ``out``."""
    reports: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
    for round_ in range(rounds):
        for side in order(round_, sides):
            report = measure(side, round_)
            reports[side.name].append(report)
            line = {**report, "commit": side.commit, "side": side.name, "round": round_}
            emit({**line, **(extra or {}).get(side.name, {})}, out)
    result = summary(benchmark, sides, reports, keys)
    emit(result, out)
    return result


def emit(line: Mapping[str, Any], out: Path | None) -> None:
    """Print one JSON line and append it to ``out``."""
    text = json.dumps(line)
    print(text, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as file:
            file.write(text + "\n")

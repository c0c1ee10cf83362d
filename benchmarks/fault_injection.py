"""Fault injection for the edge verdict (issue 24): do the tests fail when the statistics lie?

    .venv/bin/python benchmarks/fault_injection.py [--only NAME ...] [--list]
        [--tests PATH_OR_ID ...] [--out benchmarks/results/fault_injection.jsonl]

Each fault is an exact source-text replacement (``old`` -> ``new``) in one file of
``src/ai_engine``. For each, the working tree's ``src`` is copied into a temporary folder, the
replacement applied there (the harness stops when ``old`` is not found exactly once, so a
fault cannot silently stop applying after the code moves), and
``pytest -q -n 0 -x -p no:cacheprovider tests/evaluation [extra files]`` runs from the
repository root with the copy first on ``PYTHONPATH``. A clean copy runs first and must pass.
A fault is caught when pytest exits 1 with a failed test; the first failure is recorded.
``--tests`` replaces ``tests/evaluation`` (e.g. one test id: does that test alone catch it?).
One JSON line per fault is appended to ``--out``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("tests/evaluation",)


@dataclass(frozen=True)
class Fault:
    """One injected fault: ``old`` replaced by ``new`` in ``src/ai_engine/<path>``."""

    name: str
    issue: str
    """The fault as the issue names it (or its form under the SPA design)."""
    path: str
    old: str
    new: str
    extra: tuple[str, ...] = ()
    """Test files run besides tests/evaluation."""


FAULTS: tuple[Fault, ...] = (
    Fault(
        "hln_lags_0",
        "HAC lags 0 (now: the uniform-kernel long-run variance of edge.py without lags)",
        "evaluation/edge.py",
        "lags = min(h, n - 1) - 1",
        "lags = 0",
    ),
    Fault(
        "spa_chosen_rule_only",
        "Bonferroni removed (now: SPA over the chosen rule only, no selection correction)",
        "evaluation/verdict.py",
        "p_spa = spa_p_value(nets, horizons, settings.spa_reps)",
        "p_spa = spa_p_value(nets[:, [best_rule]], horizons, settings.spa_reps)",
    ),
    Fault(
        "nested_gate_ignored",
        "stability ignored (now: the nested out-of-fold net no longer required)",
        "evaluation/verdict.py",
        "pays = nested.net > 0 and totals[best_rule] > 0",
        "pays = totals[best_rule] > 0",
    ),
    Fault(
        "in_sample_weights",
        "in-sample weights (a block's own rows in the weights that score it)",
        "evaluation/combination.py",
        "past = np.flatnonzero(blocks < label)",
        "past = np.flatnonzero(blocks <= label)",
    ),
    Fault(
        "purge_0",
        "purge 0 (inner training up to the bar before the scored segment)",
        "evaluation/oof.py",
        "segments = inner_segments(len(inputs), folds, horizon, min_train)",
        "segments = inner_segments(len(inputs), folds, 0, min_train)",
    ),
    Fault(
        "test_in_inner_training",
        "test segment leaking into inner training",
        "evaluation/oof.py",
        "fit_predict(take(inputs, train), targets[train], take(inputs, test))",
        "fit_predict(take(inputs, slice(0, test.stop)), targets[: test.stop], take(inputs, test))",
    ),
    Fault(
        "no_finite_sample_conformal",
        "no finite-sample conformal correction",
        "evaluation/conformal.py",
        "level = min(math.ceil((n + 1) * coverage) / n, 1.0)",
        "level = coverage",
    ),
    Fault(
        "nested_choice_sees_scored_block",
        "margin by total instead of worst segment (now: the nested choice of margin and "
        "horizon sees the block it is scored on)",
        "evaluation/selection.py",
        "past = np.isin(blocks, labels[:i])",
        "past = np.isin(blocks, labels[: i + 1])",
    ),
    Fault(
        "bounds_ignore_recent",
        "Evidence.bounds ignoring the recent-score ratio",
        "evaluation/evidence.py",
        "np.where(np.isfinite(ratio), quantiles * ratio, quantiles)",
        "np.where(np.isfinite(ratio), quantiles, quantiles)",
    ),
    Fault(
        "clark_west_unadjusted",
        "Clark-West adjustment term dropped (plain MSE difference against the zero forecast)",
        "evaluation/edge.py",
        "adjusted = actual**2 - (actual - forecast) ** 2 + forecast**2",
        "adjusted = actual**2 - (actual - forecast) ** 2",
    ),
    Fault(
        "judged_without_costs",
        "cost not subtracted from the judged rules' net",
        "evaluation/verdict.py",
        "net, traded = run_rule(forecast, allowed, next_returns, rule, costs)",
        "net, traded = run_rule(forecast, allowed, next_returns, rule, Costs(0.0, 0.0))",
    ),
    Fault(
        "straddle_gate_not_judged",
        "straddle gate served but not judged",
        "evaluation/evidence.py",
        "verdict = judge(oof, combined, settings, min_consensus, half)",
        "verdict = judge(oof, combined, settings, min_consensus, None)",
    ),
    Fault(
        "reported_net_in_sample",
        "nested net replaced by the in-sample net of the chosen rule",
        "evaluation/verdict.py",
        "        p_spa,\n        nested.net,\n",
        "        p_spa,\n        float(totals[best_rule]),\n",
    ),
)


def patched_copy(fault: Fault | None, into: Path) -> Path:
    """A copy of the working tree's ``src`` under ``into`` with ``fault`` applied; ``tests``
    linked beside it (calibration.py reads its data relative to the package)."""
    src = into / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (into / "tests").symlink_to(ROOT / "tests")
    if fault is not None:
        target = src / "ai_engine" / fault.path
        text = target.read_text()
        found = text.count(fault.old)
        if found != 1:
            raise SystemExit(
                f"fault {fault.name}: expected the old text once in {fault.path}, found it "
                f"{found} times; update the fault to the current code: {fault.old!r}"
            )
        target.write_text(text.replace(fault.old, fault.new))
    return src


def first_failure(output: str) -> str | None:
    """The first ``FAILED``/``ERROR`` test id in pytest's short summary."""
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)
    return match.group(1) if match else None


def run_one(fault: Fault | None, timeout: float, base: tuple[str, ...] = TESTS) -> dict[str, Any]:
    """Run the ``base`` tests (and the fault's extra ones) against a copy with ``fault``
    (None: clean) and say what happened."""
    with tempfile.TemporaryDirectory(prefix="fault-") as folder:
        src = patched_copy(fault, Path(folder))
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
        probe = subprocess.run(
            [sys.executable, "-c", "import ai_engine; print(ai_engine.__file__)"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        if not probe.stdout.strip().startswith(str(src)):
            raise SystemExit(f"the copy is not what imports: {probe.stdout.strip()}")
        tests = [*base, *(fault.extra if fault else ())]
        command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-x", "-p", "no:cacheprovider"]
        started = time.perf_counter()
        done = subprocess.run(
            [*command, *tests], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        seconds = time.perf_counter() - started
    failed = first_failure(done.stdout + done.stderr)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    return {
        "fault": "clean" if fault is None else fault.name,
        "issue_fault": None if fault is None else fault.issue,
        "file": None if fault is None else f"src/ai_engine/{fault.path}",
        "tests": tests,
        "returncode": done.returncode,
        "caught": done.returncode == 1 and failed is not None,
        "first_failure": failed,
        "summary": summary,
        "seconds": round(seconds, 1),
    }


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| fault | file | caught | first failing test | s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        caught = "yes" if r["caught"] else ("-" if r["fault"] == "clean" else "**no**")
        test = (r["first_failure"] or "").replace("tests/evaluation/", "")
        file = (r["file"] or "").replace("src/ai_engine/", "")
        lines.append(f"| {r['fault']} | {file} | {caught} | {test} | {r['seconds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="fault names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the faults and stop")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    parser.add_argument(
        "--tests", nargs="*", default=list(TESTS), help="test paths or ids (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "fault_injection.jsonl"
    )
    args = parser.parse_args()
    chosen = [f for f in FAULTS if not args.only or f.name in args.only]
    if args.only and len(chosen) != len(set(args.only)):
        known = sorted(f.name for f in FAULTS)
        raise SystemExit(f"unknown fault in {args.only}; known: {known}")
    if args.list:
        for f in chosen:
            print(f"{f.name:32s} {f.path:28s} {f.issue}")
        return
    for f in chosen:  # every replacement applies before anything runs
        with tempfile.TemporaryDirectory(prefix="fault-check-") as folder:
            patched_copy(f, Path(folder))
    context = {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_uncommitted": bool(git("status", "--porcelain", "--", "src")),
        "tests_uncommitted": bool(git("status", "--porcelain", "--", "tests")),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    base = tuple(args.tests)
    context["base_tests"] = list(base)
    clean = run_one(None, args.timeout, base)
    rows = [clean]
    if clean["returncode"] != 0:
        raise SystemExit(f"the clean copy fails its tests: {clean['summary']}")
    for fault in chosen:
        rows.append(run_one(fault, args.timeout, base))
        print(f"{fault.name}: caught={rows[-1]['caught']} {rows[-1]['first_failure']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        for row in rows:
            out.write(json.dumps({**row, **context}) + "\n")
    caught = sum(r["caught"] for r in rows[1:])
    print(
        f"\n{caught} of {len(rows) - 1} faults caught (commit {context['commit']}, "
        f"load {context['load_average']})\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()

"""``--compare REF`` of the benchmarks (benchmarks/compare_ref.py): a real worktree of a reference
commit, removed afterwards; alternating rounds; the summary's ratios."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_ref.py"


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_ref", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compare_ref", module)
    spec.loader.exec_module(module)
    return module


def _worktrees() -> str:
    return subprocess.run(
        ["git", "worktree", "list"], cwd=SCRIPT.parent, capture_output=True, text=True, check=True
    ).stdout


def test_the_reference_is_a_worktree_of_its_commit_removed_afterwards(
    compare: ModuleType,
) -> None:
    with compare.ref_side("HEAD~1") as ref:
        assert (ref.root / "src" / "ai_engine" / "__init__.py").is_file()
        assert str(ref.root) in _worktrees()
        assert ref.env["PYTHONPATH"] == str(ref.root / "src")
        probe = "import ai_engine; print(ai_engine.__file__)"
        found = subprocess.run(
            [sys.executable, "-c", probe], env=ref.env, capture_output=True, text=True, check=True
        )
        assert found.stdout.strip().startswith(str(ref.root))  # its code, not the checkout's
    assert str(ref.root) not in _worktrees() and not ref.root.exists()


def test_a_registry_the_side_cannot_load_says_why(compare: ModuleType, tmp_path: Path) -> None:
    refused = compare.loads_release(compare.head_side(), tmp_path / "none")
    assert refused and "none" in refused


def test_rounds_alternate_and_the_summary_divides_the_medians(
    compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = compare.Side("head", "aaaa", tmp_path)
    ref = compare.Side("ref", "bbbb", tmp_path)
    runs: list[tuple[str, int]] = []

    def measure(side: Any, round_: int) -> dict[str, Any]:
        runs.append((side.name, round_))
        cost = {"head": 1.0, "ref": 4.0}[side.name] + round_
        return {"cpu_ms": cost, "stages": {"x": {"us": 2 * cost}}, "label": "text"}

    out = tmp_path / "out.jsonl"
    keys = ("cpu_ms", "stages.x.us", "label", "missing")
    result = compare.run_rounds("bench", (head, ref), 3, measure, keys, out, {"ref": {"k": 1}})
    assert runs == [("head", 0), ("ref", 0), ("ref", 1), ("head", 1), ("head", 2), ("ref", 2)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["side"], x["commit"]) for x in lines[:2]] == [("head", "aaaa"), ("ref", "bbbb")]
    assert lines[1]["k"] == 1 and "k" not in lines[0]
    assert lines[-1] == result and result["ratio"] == {"cpu_ms": 0.4, "stages.x.us": 0.4}
    assert result["head_median"]["cpu_ms"] == 2.0 and result["ref_median"]["cpu_ms"] == 5.0
    assert len(capsys.readouterr().out.splitlines()) == 7

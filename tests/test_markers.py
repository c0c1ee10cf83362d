"""The ``slow`` marker: registered, and every module it names exists (a renamed module would
otherwise drop out of `make test-fast`'s exclusion silently, or the marker out of use)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import SLOW_MODULES

ROOT = Path(__file__).resolve().parent.parent


def test_the_slow_marker_is_registered_and_names_existing_modules() -> None:
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert any(m.startswith("slow:") for m in pytest_options["ini_options"]["markers"])
    missing = [name for name in SLOW_MODULES if not (ROOT / "tests" / name).is_file()]
    assert not missing, missing


def test_make_test_runs_slow_tests_and_test_fast_leaves_them_out() -> None:
    dry = subprocess.run(
        ["make", "-n", "test", "test-fast"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    test, fast = [line for line in dry.stdout.splitlines() if "pytest" in line]
    assert "--durations=25" in test and "-m" not in test.split()  # everything, slowest listed
    assert '-m "not slow"' in fast


def test_not_slow_deselects_an_end_to_end_module() -> None:
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"]
    modules = ["tests/test_cli.py", "tests/test_ensemble.py"]
    listed = subprocess.run(
        [*command, "-m", "not slow", *modules], capture_output=True, text=True, cwd=ROOT
    )
    assert "tests/test_ensemble.py::" in listed.stdout, listed.stdout[-2000:]
    assert "tests/test_cli.py::" not in listed.stdout

"""`ai-engine backtest` through the real executable: a report, a summary, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import synthetic_frame
from tiny import TINY

CLI = str(Path(sys.executable).with_name("ai-engine"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [CLI, "backtest", *args], capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("backtest-cli")
    data = folder / "SYN-5m.csv"
    synthetic_frame(800, seed=4).to_csv(data)
    config = folder / "tiny.json"
    config.write_text(json.dumps({"families": TINY}))
    return data, config


def test_backtest_writes_the_report_and_prints_a_summary(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    data, config = inputs
    result = run(
        "--data",
        str(data),
        "--config",
        str(config),
        "--folds",
        "2",
        "--fee",
        "0.002",
        "--no-short",
        "--hold",
        "horizon",
        "--out",
        str(tmp_path / "report"),
    )
    assert result.returncode == 0, result.stderr
    for text in ("out-of-sample forecasts", "ensemble", "buy_and_hold", "Sharpe", "momentum"):
        assert text in result.stdout
    assert "backtest done" in result.stderr  # rich progress over folds (on stderr)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["data"]["symbol"] == "SYN" and report["data"]["timeframe"] == "5m"
    headline = report["verdict"]["headline"]  # printed first, before every table
    assert result.stdout.startswith(headline) and "doing nothing" in headline
    assert report["verdict"]["short_period"] and "* annualised from" in result.stdout
    backtest = report["settings"]["backtest"]
    assert (backtest["fee"], backtest["short"], backtest["hold"]) == (0.002, False, "horizon")
    assert report["trading"]["ensemble"]["short_share"] == 0.0
    assert (tmp_path / "report" / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fee", "-0.1"], "ConfigError: fee must be a fraction of the traded value"),
        (["--folds", "30"], "ConfigError: 30 folds of"),
        (["--train-bars", "300", "--expanding"], "ConfigError: --expanding and --train-bars"),
    ],
)
def test_bad_settings_are_one_line_errors(
    inputs: tuple[Path, Path], args: list[str], message: str, tmp_path: Path
) -> None:
    data, config = inputs
    result = run("--data", str(data), "--config", str(config), *args, "--out", str(tmp_path))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr

"""Issue 27, a new user's first hour (round two), through the real `ai-engine` executable: the
mistakes a first try makes get one line that says what to do, and a non-zero exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_engine.registry import Registry
from trained import tiny_registry

from synthetic import synthetic_frame

CLI = str(Path(sys.executable).with_name("ai-engine"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "AI_ENGINE_REGISTRY")}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return tiny_registry(tmp_path_factory.mktemp("first-hour-two") / "registry")


def test_signal_without_a_promoted_release_says_how_to_promote(
    registry: Registry, tmp_path: Path
) -> None:
    unpromoted = Registry(Path(str(registry.root)))
    copy = tmp_path / "registry"
    subprocess.run(["cp", "-r", str(unpromoted.root), str(copy)], check=True)
    (copy / "aliases" / "production.json").unlink()  # as `train` without --promote leaves it
    data = tmp_path / "TEST-5m.csv"
    synthetic_frame(700, seed=3).to_csv(data)
    line = one_line_error(run("signal", "--data", str(data), "--registry", str(copy)))
    newest = Registry(copy).releases()[-1].id
    assert "no alias or release named 'production'" in line
    assert f"`ai-engine models promote {newest} --registry {copy}`" in line, line


def test_a_daily_file_read_as_hourly_is_named_not_counted_as_gaps(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "GOOG.csv"
    synthetic_frame(700, seed=5, freq="1D").to_csv(data)
    done = run("signal", "--data", str(data), "--timeframe", "1h", "--registry", str(registry.root))
    line = one_line_error(done)
    assert "this file looks like 1d data (its median step between bars); you asked for 1h" in line
    assert "give --timeframe 1d, or 1h candles" in line


def test_a_missing_registry_is_one_line_and_non_zero(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for command in (["models", "list"], ["models", "list", "--json"]):
        line = one_line_error(run(*command, "--registry", str(missing)))
        assert f"registry folder {missing} does not exist" in line
    started = time.monotonic()
    done = run("serve", "--registry", str(missing), "--port", "0", cwd=tmp_path)
    line = one_line_error(done)
    assert "does not exist" in line and "--wait-for-registry" in line
    assert time.monotonic() - started < 120  # refused before anything loads, not a timeout
    assert not (tmp_path / "state.db").exists()


def test_serve_on_a_port_in_use_fails_first_in_one_line(registry: Registry, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--registry", str(registry.root), "--port", str(port), cwd=tmp_path)
    line = one_line_error(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert not (tmp_path / "state.db").exists()  # the state store was never opened


def test_a_replay_on_the_training_bars_warns_that_it_is_in_sample(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "TEST-5m.csv"
    synthetic_frame(700, seed=3).to_csv(data)  # the candles the tiny release was trained on
    args = ("--release", "production", "--data", str(data), "--out", str(tmp_path / "replay"))
    done = run("backtest", *args, "--registry", str(registry.root))
    assert done.returncode == 0, done.stderr
    assert "fall inside the release's training data" in done.stderr, done.stderr
    assert "in sample, not a test" in done.stderr


def test_debug_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    done = run("models", "list", "--registry", str(missing), "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr, done.stderr
    assert "RegistryError" in done.stderr and "No such option" not in done.stderr


def test_help_shows_plain_metavars_and_what_weighting_means() -> None:
    train = run("train", "--help").stdout
    assert "--data FILE" in train and "--plugin PLUGIN" in train and "--jobs N" in train
    assert "<list[" not in train and "<int range>" not in train
    backtest = " ".join(run("backtest", "--help").stdout.split())
    assert "the combination (nnls by default) is `combination` in --config" in backtest


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("semicolon", "the file looks ';'-separated"),
        ("reversed", "the file looks reversed (newest bar first"),
        ("no_volume", "FX and index files often have none: add a column volume = 1 on every bar"),
    ],
)
def test_common_file_shapes_get_a_hint(
    registry: Registry, tmp_path: Path, shape: str, expected: str
) -> None:
    frame = synthetic_frame(700, seed=5)
    data = tmp_path / "EURUSD.csv"
    if shape == "semicolon":
        frame.to_csv(data, sep=";")
    elif shape == "reversed":
        frame.iloc[::-1].to_csv(data)
    else:
        frame.drop(columns="volume").to_csv(data)
    line = one_line_error(run("signal", "--data", str(data), "--registry", str(registry.root)))
    assert expected in line, line


def test_piped_help_lists_commands_in_full() -> None:
    listing = run("--help").stdout
    assert "publish their bundles and a release." in listing
    assert not [
        line for line in listing.splitlines() if line.endswith("...") and "[ARGS]" not in line
    ]


def test_fills_takes_an_owner_and_a_fill_id(registry: Registry, tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    base = ("--registry", str(registry.root), "--state-url", state)
    assert run("state", "upgrade", "--create", "--state-url", state).returncode == 0
    assert run("account", "--equity", "10000", *base).returncode == 0
    fill = ("--symbol", "TEST", "--side", "BUY", "--quantity", "1", "--price", "100")
    first = run("fills", *fill, "--owner", "alice", "--fill-id", "order-1", *base)
    assert first.returncode == 0, first.stderr
    again = run("fills", *fill, "--owner", "alice", "--fill-id", "order-1", *base)
    assert again.returncode == 0 and again.stdout == first.stdout  # a retry books nothing new
    (booked,) = json.loads(run("fills", *base).stdout)["fills"]
    assert booked["owner"] == "alice" and booked["fill_id"] == "order-1"


def test_models_families_says_which_weights_it_lists() -> None:
    listing = run("models", "families").stdout
    assert "weight: the default weight, used by a fixed combination only" in listing

"""Every command of docs/api.md's bash blocks runs as written after `make demo`, against a real
`ai-engine serve` of a release trained on the demo candles (tiny preset: seconds)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai_engine.data import demo_candles
from ai_engine.registry import Registry
from ai_engine.safety.keys import configured_keys
from ai_engine.training import make_plan, train
from service.helpers import ADMIN_TOKEN
from service.server import served, wait

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "api.md"
SET_UP = ("make demo", ".venv/bin/ai-engine serve", "export AI=", "export AI_KEY=")
"""The set-up lines: the fixture does what they do (AI_KEY: the key file the service made)."""


def commands() -> list[str]:
    """The commands of every ```bash block, continuation lines joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command and not command.startswith(SET_UP):
                found.append(command)
    return found


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """What `make demo` and the serve line leave: ./registry with production, a server on it."""
    folder = tmp_path_factory.mktemp("api-docs")
    train(demo_candles(), Registry(folder / "registry"), make_plan("tiny"), "production")
    no_keys = {"AI_ENGINE_TRADER_KEYS": ""}  # out of the box: the service makes ./keys
    with served(Path("registry"), folder / "serve.log", cwd=folder, env_changes=no_keys) as url:
        wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        yield url, folder


def test_the_doc_has_the_examples_it_promises() -> None:
    found = commands()
    assert found[0].startswith(".venv/bin/python examples/api_bodies.py")  # bodies come first
    for needle in ("/v1/signal", "/v1/forecast", "?release=", "/v1/models/promote", "/v2/"):
        assert any(needle in c for c in found), needle
    assert not any('"..."' in c for c in found)


def test_every_command_runs_as_written(demo_server: tuple[str, Path]) -> None:
    url, folder = demo_server
    key = configured_keys(str(folder / "keys")).key_for("engine")
    assert key is not None and (folder / "keys").stat().st_mode & 0o077 == 0
    env = {**os.environ, "AI": url, "AI_ENGINE_ADMIN_TOKEN": ADMIN_TOKEN, "AI_KEY": key}
    outputs = {}
    for command in commands():
        runnable = command.replace(".venv/bin/python ", f"{sys.executable} ").replace(
            " examples/", f" {REPO}/examples/"
        )
        runnable = re.sub(r"^curl ", "curl --fail-with-body ", runnable)
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", runnable],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
        outputs[command] = result.stdout
    signal = next(
        out
        for c, out in outputs.items()
        if c.endswith("/v1/signal -H 'Content-Type: application/json' -d @body.json")
    )
    assert json.loads(signal)["action"] in ("BUY", "SELL", "HOLD")
    promote = next(out for c, out in outputs.items() if "promote.json" in c)
    assert json.loads(promote)["reload"]["swapped"] is False

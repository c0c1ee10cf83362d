"""The README's commands run as written (issue 27 item 12): every `ai-engine` command in its
"Using it" block exists with every flag the line gives it, the files it names exist in a
fresh clone, and the signal command answers from a trained release."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trained import tiny_registry

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("ai-engine"))
GROUPS = ("models", "ess", "contract", "freqtrade", "state")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "AI_ENGINE_REGISTRY")}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env
    )


def readme_commands() -> list[list[str]]:
    """Each `ai-engine ...` invocation of the README's usage block, alternatives expanded
    (`models list | show ID` -> `models list`, `models show ID`), comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Using it", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        for invocation in re.split(r" / (?=ai-engine )", line):
            if not invocation.startswith("ai-engine "):
                continue
            words = invocation.removeprefix("ai-engine ").split(" | ")
            first = words[0].split()
            group = [first[0]] if first[0] in GROUPS else []
            commands.append(first)
            commands += [group + alternative.split() for alternative in words[1:]]
    return commands


def command_path(words: list[str]) -> list[str]:
    path = []
    for word in words:
        if word.startswith(("-", "[")) or not word.islower() or "." in word or "/" in word:
            break
        path.append(word)
    return path[:2] if path and path[0] in GROUPS else path[:1]


COMMANDS = readme_commands()


def test_the_usage_block_was_read() -> None:
    assert len(COMMANDS) >= 20 and ["models", "families"] in COMMANDS


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_each_readme_command_exists_with_its_flags(words: list[str]) -> None:
    path = command_path(words)
    helptext = run(*path, "--help")
    assert helptext.returncode == 0, (path, helptext.stderr)
    for flag in {w.strip("[]") for w in words if w.strip("[]").startswith("--")}:
        assert flag in helptext.stdout, (path, flag)
    for i, word in enumerate(words[:-1]):
        if word == "--data" and Path(words[i + 1]).suffix:  # a file, not the user's folder
            assert (ROOT / words[i + 1]).exists(), words[i + 1]  # a fresh clone has it


def test_the_readme_signal_command_answers(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    (signal,) = [c for c in COMMANDS if c[:1] == ["signal"]]
    done = run(*signal, "--registry", str(registry.root))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["action"] in ("BUY", "SELL", "HOLD")

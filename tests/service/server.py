"""A real ``ai-engine serve`` process on a loopback port, for the tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from service.helpers import ADMIN_TOKEN, TRADER_KEYS

SLOW = 180.0
"""Seconds a condition may take on a loaded machine; met conditions return at once."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(condition: Callable[[], bool], timeout_s: float = SLOW, what: str = "") -> None:
    """Poll ``condition`` until it holds; a request that times out on a busy machine counts as
    "not yet", never as a failure. ``what``: the awaited event, named in the failure."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.TimeoutException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout_s:.0f} s for {what or 'a condition'}; it never came")


def wait_ready(url: str, timeout_s: float = SLOW) -> None:
    """Wait until the server at ``url`` has loaded its release (``/health/ready`` 200)."""
    ready = lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200  # noqa: E731
    wait(ready, timeout_s, f"{url}/health/ready to answer 200 (the release loaded)")


@contextmanager
def served(
    registry: Path,
    log: Path,
    *args: str,
    cwd: Path | None = None,
    env_changes: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``ai-engine serve`` until the block ends; yields its base URL once it is live.
    ``env_changes``: environment variables set beside (or over) the admin token and the trader
    keys (``"AI_ENGINE_TRADER_KEYS": ""``: none, so the service makes its key file)."""
    port = free_port()
    env = {
        **os.environ,
        "AI_ENGINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "AI_ENGINE_TRADER_KEYS": TRADER_KEYS,
        **(env_changes or {}),
    }
    command = [sys.executable, "-m", "ai_engine.cli", "serve", "--registry", str(registry)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            env=env,
            stdout=stderr,
            stderr=stderr,
            cwd=cwd,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait(lambda: _answers(url, process), what=f"{url}/health/live to answer 200")
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                assert process.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises it
            finally:
                process.kill()


def _answers(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"server exited with {process.returncode}"
    try:
        return httpx.get(f"{url}/health/live", timeout=5).status_code == 200
    except httpx.TransportError:
        return False

"""Where many training tasks run: in this process, a local process pool, or a Ray cluster.

An executor maps a top-level function over JSON-able task dicts and returns the JSON-able
results in task order. Tasks write their bundles and releases through the registry (which
serialises publishers with its file lock), never return models: nothing pickled reaches the
registry, whichever executor ran the task.

- ``inline``: this process, one task after the other (``--jobs 1``).
- ``local``: a process pool of ``jobs`` workers forked from a fresh fork server that imported
  the heavy libraries once (no forked state of this process), each held to one thread (torch,
  OpenMP, BLAS) so ``jobs`` tasks fill ``jobs`` cores.
- ``ray``: one Ray task per training task (``num_cpus=1``) on the instance at ``address``
  (``auto``: a running cluster; ``ray://host:10001``: a remote one through Ray Client; none:
  the instance this process already started, else a local one of ``jobs`` CPUs). Needs the
  optional extra ``quantum-ai-engine[ray]``; every Ray node needs the same package version
  and a registry path that names the same shared folder (docs/multi-symbol.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol

from ai_engine.errors import ConfigError

Task = dict[str, Any]
Result = dict[str, Any]
TaskFunction = Callable[[Task], Result]
EXECUTORS: tuple[str, ...] = ("local", "ray")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Executor(Protocol):
    """Runs ``fn`` on every task; results in task order."""

    name: str

    def map(self, fn: TaskFunction, tasks: Sequence[Task]) -> list[Result]: ...


PRELOAD = ("torch", "xgboost", "lightgbm", "ai_engine.training", "ai_engine.multi.tasks")
"""Modules the fork server imports before forking workers."""


def one_thread() -> None:
    """Hold this process to one compute thread (a worker's initializer)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


class InlineExecutor:
    """Every task in this process, one after the other."""

    name = "inline"

    def map(self, fn: TaskFunction, tasks: Sequence[Task]) -> list[Result]:
        return [fn(task) for task in tasks]


class LocalPoolExecutor:
    """A pool of ``jobs`` spawned worker processes, one thread each."""

    name = "local"

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs expects a number >= 1, found {jobs}")
        self.jobs = jobs

    def map(self, fn: TaskFunction, tasks: Sequence[Task]) -> list[Result]:
        if len(tasks) <= 1:  # nothing to share out: no worker to start
            return InlineExecutor().map(fn, tasks)
        workers = min(self.jobs, len(tasks))
        context = get_context("forkserver")
        # the fork server is a fresh process: it imports the heavy libraries once, with one
        # thread, and every worker forks from it instead of importing them again
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, "1")
        context.set_forkserver_preload(list(PRELOAD))
        with ProcessPoolExecutor(workers, context, initializer=one_thread) as pool:
            return list(pool.map(fn, tasks))


class RayExecutor:
    """One Ray task per training task, ``num_cpus=1`` each."""

    name = "ray"

    def __init__(self, address: str | None = None, jobs: int = 1) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "--executor ray needs Ray: pip install 'quantum-ai-engine[ray]'"
            ) from exc
        self.ray = ray
        self.address = address
        self.jobs = jobs

    def _connect(self) -> None:
        if self.ray.is_initialized():
            return
        env = {"env_vars": dict.fromkeys(THREAD_VARIABLES, "1")}
        try:
            if self.address:
                self.ray.init(address=self.address, runtime_env=env, log_to_driver=False)
            else:
                self.ray.init(num_cpus=self.jobs, runtime_env=env, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"--ray-address {self.address or '(local)'}: {exc}") from exc

    def map(self, fn: TaskFunction, tasks: Sequence[Task]) -> list[Result]:
        self._connect()
        remote = self.ray.remote(num_cpus=1, max_retries=0)(_in_one_thread)
        return list(self.ray.get([remote.remote(fn, task) for task in tasks]))


def _in_one_thread(fn: TaskFunction, task: Task) -> Result:
    one_thread()
    return fn(task)


def make_executor(name: str = "local", jobs: int = 1, address: str | None = None) -> Executor:
    """``local`` (inline when ``jobs`` is 1) or ``ray``; ConfigError for anything else."""
    if name not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {list(EXECUTORS)}, found {name!r}")
    if jobs < 1:
        raise ConfigError(f"--jobs expects a number >= 1, found {jobs}")
    if name == "ray":
        return RayExecutor(address, jobs)
    if address is not None:
        raise ConfigError("--ray-address needs --executor ray")
    return InlineExecutor() if jobs == 1 else LocalPoolExecutor(jobs)

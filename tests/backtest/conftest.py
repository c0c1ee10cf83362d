"""Shared pieces for the backtest tests: tiny plans, synthetic series, one cached run."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest

from ai_engine.backtest import BacktestResult, BacktestSettings, run_backtest
from ai_engine.data import make_candles
from ai_engine.training import TrainingPlan

from synthetic import synthetic_frame
from tiny import TINY

N_BARS = 900


def tiny_plan(**overrides: dict[str, Any]) -> TrainingPlan:
    families = {f: {**TINY[f], **overrides.get(f, {})} for f in TINY}
    return TrainingPlan(preset="quick", families=families, seed=1)


def seasonal_frame(
    n: int, period: int = 24, amplitude: float = 0.002, noise: float = 0.0005, seed: int = 0
) -> pd.DataFrame:
    """Candles whose log returns are a sine of period ``period`` bars plus a little noise:
    a planted, learnable pattern (the recent returns give away the phase)."""
    rng = np.random.default_rng(seed)
    returns = amplitude * np.sin(2 * np.pi * np.arange(n) / period) + rng.normal(0, noise, n)
    frame = synthetic_frame(n, seed=seed)
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.r_[close[0], close[:-1]]
    frame["open"], frame["close"] = open_, close
    frame["high"] = np.maximum(open_, close) * 1.0005
    frame["low"] = np.minimum(open_, close) * 0.9995
    return frame


class TimedRun(NamedTuple):
    """A backtest result and the wall and CPU seconds measured around the call from outside."""

    result: BacktestResult
    wall_seconds: float
    cpu_seconds: float


@pytest.fixture(scope="session")
def random_walk_run() -> TimedRun:
    """A 2-fold backtest of a pure random walk with tiny models (models kept), timed."""
    candles = make_candles(synthetic_frame(N_BARS, seed=11), "RW", "5m")
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_backtest(candles, tiny_plan(), BacktestSettings(folds=2), keep_models=True)
    return TimedRun(result, time.perf_counter() - started, time.process_time() - cpu_started)


@pytest.fixture(scope="session")
def random_walk_result(random_walk_run: TimedRun) -> BacktestResult:
    """The random-walk backtest's result."""
    return random_walk_run.result


@pytest.fixture(scope="session")
def plan_factory() -> Any:
    return tiny_plan


@pytest.fixture(scope="session")
def seasonal_factory() -> Any:
    return seasonal_frame

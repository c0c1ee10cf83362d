"""The naive baselines and windows of the paper reproductions (benchmarks/reproduce_common.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_common.py"


@pytest.fixture(scope="module")
def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reproduce_common", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reproduce_common", module)
    spec.loader.exec_module(module)
    return module


def test_naive_metrics_by_hand(common: ModuleType) -> None:
    x = np.array([[[1.0], [3.0]], [[2.0], [0.0]]])  # (2 windows, L=2, 1 channel)
    y = np.array([[[4.0], [3.0], [2.0]], [[0.0], [1.0], [-1.0]]])  # H=3
    out = common.naive_metrics(x, y)
    # repeat-last: 3 and 0; errors 1, 0, -1, 0, 1, -1
    assert out["repeat_last"]["mse"] == pytest.approx(4 / 6)
    assert out["repeat_last"]["mae"] == pytest.approx(4 / 6)
    # window mean: 2 and 1; errors 2, 1, 0, -1, 0, -2
    assert out["window_mean"]["mse"] == pytest.approx(10 / 6)
    assert out["window_mean"]["mae"] == pytest.approx(6 / 6)


def test_univariate_and_multivariate_windows_score_alike(common: ModuleType) -> None:
    series = np.random.default_rng(0).normal(size=(60, 3)).cumsum(axis=0)
    xm, ym = common.windows(series, 8, 4)
    xu, yu = common.univariate_windows(series, 8, 4)
    assert xm.shape == (49, 8, 3) and xu.shape == (49 * 3, 8, 1)
    np.testing.assert_array_equal(xu[1 * 3 + 2, :, 0], xm[1, :, 2])  # window-major
    multi, uni = common.naive_metrics(xm, ym), common.naive_metrics(xu, yu)
    for name in ("repeat_last", "window_mean"):
        assert uni[name]["mse"] == pytest.approx(multi[name]["mse"], rel=1e-6)


def test_splits_and_drop_last(common: ModuleType) -> None:
    data = np.arange(17420 * 2, dtype=np.float64).reshape(17420, 2)
    parts = common.ett_segments(data, 336)
    assert [len(parts[s]) for s in ("train", "val", "test")] == [8640, 2880 + 336, 2880 + 336]
    n_test = len(common.windows(parts["test"], 336, 96)[0])
    assert n_test == 2785
    assert common.drop_last_count(n_test) == 2688
    exchange = common.exchange_segments(np.ones((7588, 8)) + np.arange(7588)[:, None], 480)
    assert len(exchange["train"]) == 5311
    assert len(exchange["test"]) == 1517 + 480

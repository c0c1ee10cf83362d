"""``return_windows``: the one-row (serving) slice equals the strided windows of training."""

from __future__ import annotations

import numpy as np
import pytest

from ai_engine.errors import DataValidationError
from ai_engine.features import return_windows


def test_one_row_equals_the_strided_windows_and_owns_its_memory() -> None:
    returns = np.random.default_rng(0).standard_normal(300)
    many = return_windows(returns, np.arange(96, 300), 96)
    for row in (96, 150, 299):
        one = return_windows(returns, np.array([row]), 96)
        assert one.shape == (1, 96, 1) and one.flags.c_contiguous
        np.testing.assert_array_equal(one[0], many[row - 96])
        assert not np.shares_memory(one, returns)
    with pytest.raises(DataValidationError, match="row >= 96, found row 95"):
        return_windows(returns, np.array([95]), 96)

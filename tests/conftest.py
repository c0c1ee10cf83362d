"""Shared fixtures: paths to the reference data and small synthetic candle frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthetic import synthetic_frame

TEST_DATA = Path(__file__).resolve().parent / "data"
"""Small real candle files committed with the tests (tests/data/README.md), so that a fresh
clone passes without the larger reference data that benchmarks use."""
ETH_BTC = TEST_DATA / "crypto" / "ETH_BTC-5m.feather"


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="session")
def eth_btc_path() -> Path:
    assert ETH_BTC.is_file(), f"reference data missing: {ETH_BTC}"
    return ETH_BTC

"""Shared fixtures: paths to the reference data and small synthetic candle frames."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from synthetic import synthetic_frame


def _shared_data() -> Path:
    """Reference data: $AI_ENGINE_SHARED_DATA, ../shared/data beside the repo, /work/shared/data."""
    candidates = [
        Path(os.environ.get("AI_ENGINE_SHARED_DATA", "")),
        Path(__file__).resolve().parents[2] / "shared" / "data",
        Path("/work/shared/data"),
    ]
    return next((p for p in candidates if (p / "crypto").is_dir()), candidates[1])


SHARED_DATA = _shared_data()
ETH_BTC = SHARED_DATA / "crypto" / "ETH_BTC-5m.feather"


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="session")
def eth_btc_path() -> Path:
    assert ETH_BTC.is_file(), f"reference data missing: {ETH_BTC}"
    return ETH_BTC

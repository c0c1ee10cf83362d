"""Fixtures of the multi-symbol tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from multi.pairs import write_pairs


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """A folder of two real symbols' last 1,000 five-minute candles."""
    return write_pairs(tmp_path / "data")

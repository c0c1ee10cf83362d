"""Small real data for the multi-symbol tests: two real symbols cut short, a tiny plan."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tiny import TINY

CRYPTO = Path(__file__).resolve().parents[1] / "data" / "crypto"
SYMBOLS = ("ADA_BTC", "ETH_BTC")
PLAN = {"preset": "quick", "families": TINY, "seed": 7}
"""A JSON-able plan of tiny members (multi.tasks.plan_of)."""


def write_pairs(folder: Path, bars: int = 1000, symbols: tuple[str, ...] = SYMBOLS) -> Path:
    """The last ``bars`` candles of each symbol as ``PAIR-5m.feather`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for symbol in symbols:
        frame = pd.read_feather(CRYPTO / f"{symbol}-5m.feather")
        frame.iloc[-bars:].reset_index(drop=True).to_feather(folder / f"{symbol}-5m.feather")
    return folder

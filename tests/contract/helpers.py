"""Fresh candles for the contract and UI tests: the synthetic bars of the tiny release, moved so
that the last one is the bar running now (the service's stale-data gate stays on)."""

from __future__ import annotations

import time
from typing import Any

from synthetic import synthetic_frame

BAR_S = 300
MARGIN_S = 30.0
FRAME = synthetic_frame(700, seed=3)


def fresh_rows(n: int = 256) -> list[dict[str, Any]]:
    """The last ``n`` synthetic 5-minute bars, the last one opened at the current bar's start.

    Waits for the next bar when fewer than ``MARGIN_S`` seconds of this one are left, so that a
    body made from them stays valid for at least that long.
    """
    left = BAR_S - time.time() % BAR_S
    if left < MARGIN_S:
        time.sleep(left + 0.5)
    last = int(time.time() // BAR_S * BAR_S)
    frame = FRAME.iloc[-n:]
    return [
        {"t": (last - (n - 1 - i) * BAR_S) * 1000, "o": o, "h": h, "l": low, "c": c, "v": v}
        for i, (o, h, low, c, v) in enumerate(frame.to_numpy())
    ]


def signal_request(symbol: str = "TEST") -> dict[str, Any]:
    return {"symbol": symbol, "timeframe": "5m", "candles": fresh_rows()}

"""Signals made by hand for the safety tests (the JSON form of ``ensemble.Signal``)."""

from __future__ import annotations

from typing import Any


def make_signal(
    action: str = "BUY",
    *,
    confidence: float = 1.0,
    lower: float = -0.01,
    upper: float = 0.012,
    edge: bool | None = True,
    horizon: int = 12,
    symbol: str = "SYN",
    timeframe: str = "5m",
    as_of: str = "2025-01-01T00:00:00+00:00",
    intervals: bool = True,
    reason: str | None = None,
) -> dict[str, Any]:
    """A signal whose interval at every step is [lower, upper]."""
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "as_of": as_of,
        "horizon": horizon,
        "action": action,
        "confidence": confidence,
        "expected_return": (lower + upper) / 2,
        "forecast": [(lower + upper) / 2] * horizon,
        "forecast_lower": [lower] * horizon if intervals else [],
        "forecast_upper": [upper] * horizon if intervals else [],
        "release": "test-release",
        "reason": reason,
        "edge": {} if edge is None else {"enabled": edge, "horizon": horizon, "p_value": 0.01},
        "decision": {},
    }

"""Position sizing: a signal in, a target position (signed fraction of equity) and its exits out.

Volatility targeting: the conformal interval at the decision horizon ``h`` (cumulative log
returns, coverage ``c``) implies a standard deviation ``(upper - lower) / (2 z)``, with ``z``
the normal quantile at ``(1 + c) / 2``; per bar it is that over ``sqrt(h)``, annualised with
the bars per year of the timeframe. The target is ``target_annual_vol / annual_vol`` times the
signal's confidence, capped at ``max_leverage``, signed by the action. HOLD, a release without
an edge, or missing intervals give 0. Stop-loss and take-profit come from the interval bounds;
the maximum holding time is the decision horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from ai_engine.data import timeframe_delta
from ai_engine.safety.config import SizingConfig
from ai_engine.safety.governance import Adjustment

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Sizing:
    """The target before governance, why it is what it is, and the exits."""

    target: float
    adjustments: list[Adjustment] = field(default_factory=list)
    horizon: int = 0
    annual_vol: float | None = None
    stop_loss_return: float | None = None
    take_profit_return: float | None = None
    max_holding_bars: int = 0
    max_holding_s: float = 0.0


def bars_per_year(timeframe: str, days_per_year: float) -> float:
    """Bars of ``timeframe`` in a year of ``days_per_year`` days."""
    return days_per_year * SECONDS_PER_DAY / timeframe_delta(timeframe).total_seconds()


def size(signal: dict[str, Any], config: SizingConfig) -> Sizing:
    """The volatility-targeted position for ``signal`` (the Signal's JSON form)."""
    horizon = int(signal.get("horizon") or 0)
    bar_s = timeframe_delta(str(signal["timeframe"])).total_seconds()
    exits = {"horizon": horizon, "max_holding_bars": horizon, "max_holding_s": horizon * bar_s}
    action = signal.get("action")
    if action not in ("BUY", "SELL"):
        why = signal.get("reason") or "no decision"
        return Sizing(0.0, [Adjustment("HOLD", 0.0, 0.0, f"signal is HOLD ({why})")], **exits)
    edge = signal.get("edge") or {}
    if not edge.get("enabled", False):
        message = (
            "release has no out-of-fold edge verdict"
            if not edge
            else (f"release has no edge (p={edge.get('p_value')}, oos_r2={edge.get('oos_r2')})")
        )
        return Sizing(0.0, [Adjustment("NO_EDGE", 0.0, 0.0, message)], **exits)
    lower, upper = signal.get("forecast_lower") or [], signal.get("forecast_upper") or []
    if horizon < 1 or len(lower) < horizon or len(upper) < horizon:
        message = f"no forecast interval at the decision horizon {horizon}: nothing to size with"
        return Sizing(0.0, [Adjustment("NO_INTERVAL", 0.0, 0.0, message)], **exits)
    low, high = float(lower[horizon - 1]), float(upper[horizon - 1])
    width = high - low
    if not (math.isfinite(low) and math.isfinite(high) and width > 0):
        message = f"interval at h{horizon} is [{low}, {high}]: not a usable width"
        return Sizing(0.0, [Adjustment("NO_INTERVAL", 0.0, 0.0, message)], **exits)
    z = NormalDist().inv_cdf(0.5 + config.interval_coverage / 2)
    bar_vol = width / (2 * z) / math.sqrt(horizon)
    annual_vol = bar_vol * math.sqrt(bars_per_year(str(signal["timeframe"]), config.days_per_year))
    confidence = min(max(float(signal.get("confidence", 0.0)), 0.0), 1.0)
    raw = config.target_annual_vol / annual_vol * confidence
    adjustments: list[Adjustment] = []
    magnitude = raw
    if raw > config.max_leverage:
        magnitude = config.max_leverage
        adjustments.append(
            Adjustment("LEVERAGE", raw, magnitude, f"capped at max_leverage {config.max_leverage}")
        )
    sign = 1.0 if action == "BUY" else -1.0
    if sign < 0 and not config.allow_short:
        adjustments.append(Adjustment("NO_SHORT", -magnitude, 0.0, "shorting is off"))
        return Sizing(0.0, adjustments, annual_vol=annual_vol, **exits)
    half = width / 2
    if sign > 0:
        stop, take = (low if low < 0 else -half), (high if high > 0 else half)
    else:
        stop, take = (high if high > 0 else half), (low if low < 0 else -half)
    return Sizing(
        sign * magnitude,
        adjustments,
        annual_vol=annual_vol,
        stop_loss_return=stop,
        take_profit_return=take,
        **exits,
    )

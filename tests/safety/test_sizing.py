"""Volatility targeting from the interval width, exits from its bounds, zero when not sized."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from ai_engine.safety.config import SizingConfig
from ai_engine.safety.sizing import bars_per_year, size
from safety.signals import make_signal

Z80 = NormalDist().inv_cdf(0.9)


def expected_fraction(width: float, horizon: int, timeframe: str, confidence: float) -> float:
    annual = width / (2 * Z80) / math.sqrt(horizon) * math.sqrt(bars_per_year(timeframe, 365))
    return 0.20 / annual * confidence


@pytest.mark.parametrize(
    ("timeframe", "bars"),
    [("5m", 365 * 288), ("1h", 365 * 24), ("1d", 365), ("1w", 365 / 7)],
)
def test_bars_per_year(timeframe: str, bars: float) -> None:
    assert bars_per_year(timeframe, 365) == pytest.approx(bars)


def test_volatility_target_from_the_interval_width() -> None:
    sized = size(make_signal(confidence=0.5, lower=-0.02, upper=0.02), SizingConfig())
    assert sized.target == pytest.approx(expected_fraction(0.04, 12, "5m", 0.5))
    assert sized.annual_vol == pytest.approx(0.20 * 0.5 / sized.target)
    assert (sized.stop_loss_return, sized.take_profit_return) == (-0.02, 0.02)
    assert sized.max_holding_bars == 12 and sized.max_holding_s == 12 * 300
    assert sized.adjustments == []


def test_a_sell_is_short_with_mirrored_exits() -> None:
    sized = size(make_signal("SELL", lower=-0.03, upper=0.01), SizingConfig())
    assert sized.target < 0
    assert (sized.stop_loss_return, sized.take_profit_return) == (0.01, -0.03)


def test_one_sided_interval_still_gives_a_stop_on_the_losing_side() -> None:
    sized = size(make_signal(lower=0.001, upper=0.021), SizingConfig())
    assert sized.stop_loss_return == pytest.approx(-0.01)
    assert sized.take_profit_return == pytest.approx(0.021)


@pytest.mark.parametrize(
    ("signal", "code"),
    [
        (make_signal("HOLD", reason="no_edge"), "HOLD"),
        (make_signal(edge=False), "NO_EDGE"),
        (make_signal(edge=None), "NO_EDGE"),
        (make_signal(intervals=False), "NO_INTERVAL"),
        (make_signal(lower=0.01, upper=0.01), "NO_INTERVAL"),
    ],
    ids=["hold", "edge-disabled", "no-edge-verdict", "no-intervals", "zero-width"],
)
def test_zero_target_with_a_reason(signal: dict[str, object], code: str) -> None:
    sized = size(signal, SizingConfig())
    assert sized.target == 0.0
    assert [a.code for a in sized.adjustments] == [code]
    assert sized.stop_loss_return is None


def test_leverage_cap_and_no_short() -> None:
    narrow = make_signal(lower=-0.0001, upper=0.0001)
    capped = size(narrow, SizingConfig(max_leverage=2.0))
    assert capped.target == 2.0 and [a.code for a in capped.adjustments] == ["LEVERAGE"]
    no_short = size(make_signal("SELL"), SizingConfig(allow_short=False))
    assert no_short.target == 0.0 and [a.code for a in no_short.adjustments] == ["NO_SHORT"]

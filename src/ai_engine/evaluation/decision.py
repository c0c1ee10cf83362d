"""The cost-aware position rule shared by the signal, the edge verdict and the backtest.

At the decision horizon ``h`` the combined forecast ``r`` (a cumulative log return) is an
expected return. A position opens only when ``|r|`` exceeds the round trip cost plus a margin
(``entry_threshold``), and the members' votes do not veto it. Once open it is kept for at least
``min_hold_bars`` bars and then until the forecast falls to the exit band (``exit_threshold``,
narrower than the entry band: hysteresis) or an opposite entry fires. So a position does not
flip bar to bar on forecasts that hover around the threshold.

Positions are +1 (long), -1 (short) or 0 (flat). A position decided at bar ``t`` earns the
simple return of bar ``t + 1``; every change costs ``|change| * (fee + slippage)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ai_engine.errors import ConfigError


@dataclass(frozen=True)
class Costs:
    """Costs per unit of equity traded, charged on every position change (one side)."""

    fee: float = 0.001
    slippage: float = 0.0005

    def __post_init__(self) -> None:
        for name in ("fee", "slippage"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 <= value < 0.5):
                raise ConfigError(
                    f"{name} must be a fraction of the traded value within [0, 0.5) "
                    f"(0.001 = 0.1%), found {value}"
                )

    @property
    def per_side(self) -> float:
        return self.fee + self.slippage

    @property
    def round_trip(self) -> float:
        """Cost of opening and closing one unit: the least a trade must earn."""
        return 2.0 * self.per_side

    def to_json(self) -> dict[str, float]:
        return {"fee": self.fee, "slippage": self.slippage, "round_trip": self.round_trip}


@dataclass(frozen=True)
class DecisionRule:
    """Entry and exit bands on the expected return at ``horizon``, and the minimum hold."""

    horizon: int
    entry_threshold: float
    exit_threshold: float
    min_hold_bars: int
    short: bool = True

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.min_hold_bars < 0:
            raise ConfigError(
                f"decision horizon must be >= 1 and min_hold_bars >= 0, found "
                f"{self.horizon} and {self.min_hold_bars}"
            )
        if not 0 <= self.exit_threshold <= self.entry_threshold:
            raise ConfigError(
                f"expected 0 <= exit_threshold <= entry_threshold, found "
                f"{self.exit_threshold} and {self.entry_threshold}"
            )

    def entry(self, expected: float) -> int:
        """+1 / -1 when the expected return clears the entry band, else 0."""
        if expected > self.entry_threshold:
            return 1
        if expected < -self.entry_threshold and self.short:
            return -1
        return 0

    def entries(self, expected: np.ndarray) -> np.ndarray:
        """``entry`` of every value of ``expected`` ``(T,)`` at once, ``(T,)`` in {-1, 0, 1}."""
        up = (expected > self.entry_threshold).astype(int)
        down = (expected < -self.entry_threshold).astype(int) if self.short else 0
        return up - down

    def to_json(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "entry_threshold": self.entry_threshold,
            "exit_threshold": self.exit_threshold,
            "min_hold_bars": self.min_hold_bars,
            "short": self.short,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecisionRule:
        return cls(
            horizon=int(data["horizon"]),
            entry_threshold=float(data["entry_threshold"]),
            exit_threshold=float(data["exit_threshold"]),
            min_hold_bars=int(data["min_hold_bars"]),
            short=bool(data.get("short", True)),
        )


def positions(expected: np.ndarray, entries: np.ndarray, rule: DecisionRule) -> np.ndarray:
    """Run the rule over bars in time order.

    ``expected`` ``(T,)``: the combined forecast at the decision horizon; ``entries`` ``(T,)``:
    the entry each bar allows after vetoes (+1, -1, 0; see ``DecisionRule.entry``).
    Returns positions ``(T,)`` in {-1, 0, 1}.
    """
    out = [0] * len(expected)
    current, held = 0, 0
    exit_band, min_hold = rule.exit_threshold, rule.min_hold_bars
    values = np.asarray(expected, dtype=np.float64).tolist()
    for t, (value, entry) in enumerate(zip(values, np.asarray(entries).tolist(), strict=True)):
        if current != 0:
            held += 1
            if held >= min_hold:
                if entry == -current:
                    current, held = int(entry), 0
                elif current * value <= exit_band:
                    current, held = 0, 0
        elif entry != 0:
            current, held = int(entry), 0
        out[t] = current
    return np.asarray(out, dtype=np.float64)


def position_changes(held: np.ndarray) -> np.ndarray:
    """Units traded at each bar ``(T,)``: entering from flat at the first bar and closing the
    last position at the end included."""
    changes = np.abs(np.diff(held, prepend=0.0))
    if len(changes):
        changes[-1] += abs(held[-1])
    return changes


def net_returns(held: np.ndarray, next_returns: np.ndarray, costs: Costs) -> np.ndarray:
    """Per-bar net return ``(T,)``: position times the next bar's simple return, less costs."""
    return held * next_returns - position_changes(held) * costs.per_side


def turnover(held: np.ndarray) -> float:
    """Units of equity traded, the final close-out included."""
    return float(position_changes(held).sum())

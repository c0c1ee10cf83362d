"""The strategy's settings (the ``ai_engine`` section of a freqtrade config) and the position
rule stepped one bar at a time, for dry-run and live where bars arrive one by one.

``rule_step`` is the loop body of ``evaluation.decision.positions`` (tests check that stepping
it over a series equals ``positions``), so live positions follow the rule the backtest replays.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ai_engine.errors import ConfigError
from ai_engine.evaluation.decision import DecisionRule


@dataclass(frozen=True)
class StrategySettings:
    """``config["ai_engine"]``: where signals come from and what the safety layer does.

    registry/release: the release replayed in process (backtesting, hyperopt).
    service/timeout: the signal service asked in dry-run and live (seconds per call).
    candles: candles sent per request. signals_dir: write each pair's per-bar signals as CSV
    (backtesting). safety: stake from the risk proposal; safety_config: the sizing file used
    in backtesting (default: the registry's safety.toml, else the defaults). key: the trader
    key sent as ``Authorization: Bearer`` on the service's write routes (risk proposals, fills);
    ``ai-engine freqtrade init`` writes the service's key (docs/safety.md, Keys).
    """

    registry: str | None = None
    release: str = "production"
    service: str | None = None
    timeout: float = 5.0
    candles: int = 1000
    signals_dir: str | None = None
    safety: bool = False
    safety_config: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.candles > 0):
            raise ConfigError(
                f"ai_engine.timeout and ai_engine.candles must be > 0, found {self.timeout} "
                f"and {self.candles}"
            )

    @classmethod
    def from_config(cls, data: Any) -> StrategySettings:
        """From the config section; unknown keys are refused with the known ones listed."""
        if not isinstance(data, dict):
            raise ConfigError(f"config 'ai_engine' must be an object, found {data!r}")
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - known):
            raise ConfigError(
                f"unknown ai_engine setting(s) {unknown}; expected some of {sorted(known)}"
            )
        return cls(**data)


@dataclass
class RuleState:
    """One pair's position under the rule and the bars it has been held."""

    current: int = 0
    held: int = 0


def rule_step(state: RuleState, expected: float, entry: int, rule: DecisionRule | None) -> int:
    """Advance ``state`` by one bar; the new position. Without a rule: the bar's entry."""
    if rule is None:
        state.current, state.held = entry, 0
        return entry
    if state.current != 0:
        state.held += 1
        if state.held >= rule.min_hold_bars:
            if entry == -state.current:
                state.current, state.held = entry, 0
            elif state.current * expected <= rule.exit_threshold:
                state.current, state.held = 0, 0
    elif entry != 0:
        state.current, state.held = entry, 0
    return state.current


def signal_rule(signal: dict[str, Any]) -> DecisionRule | None:
    """The decision rule a signal carries (``decision``), None for a release without one."""
    decision = signal.get("decision") or {}
    return DecisionRule.from_json(decision) if decision else None

"""The safety layer's configuration: sizing, governance limits and emergency-stop triggers.

Read from a TOML or JSON file with the tables ``[sizing]``, ``[limits]`` and ``[ess]`` (every
key optional; unknown keys are a ConfigError). See docs/safety.md for each setting.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ai_engine.errors import ConfigError
from ai_engine.safety.ess import EssState

ESS_STATES = tuple(state.value for state in EssState)


@dataclass(frozen=True)
class SizingConfig:
    """Volatility targeting from the forecast interval."""

    target_annual_vol: float = 0.20
    max_leverage: float = 1.0
    interval_coverage: float = 0.80
    days_per_year: float = 365.0
    allow_short: bool = True

    def check(self) -> None:
        _positive("sizing.target_annual_vol", self.target_annual_vol)
        _positive("sizing.max_leverage", self.max_leverage)
        _positive("sizing.days_per_year", self.days_per_year)
        if not 0 < self.interval_coverage < 1:
            raise ConfigError(
                f"sizing.interval_coverage must be in (0, 1), found {self.interval_coverage}"
            )


@dataclass(frozen=True)
class LimitsConfig:
    """Portfolio governance: positions as signed fractions of equity, notional in quote units."""

    symbols: list[str] = field(default_factory=list)
    """Symbols the engine may size; empty: the served release's symbol."""
    max_position: float = 0.5
    max_gross: float = 1.0
    max_net: float = 1.0
    max_open_positions: int = 5
    max_changes_per_minute: int = 30
    min_notional: float = 10.0
    max_notional: float = 1_000_000.0
    reservation_max_s: float = 3600.0
    """Longest an approved proposal reserves its change (else until its signal's valid_until)."""

    def check(self) -> None:
        for name in ("max_position", "max_gross", "max_net", "max_notional", "reservation_max_s"):
            _positive(f"limits.{name}", getattr(self, name))
        for name in ("max_open_positions", "max_changes_per_minute"):
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name} must be >= 1, found {getattr(self, name)}")
        if not (math.isfinite(self.min_notional) and 0 <= self.min_notional <= self.max_notional):
            raise ConfigError(
                f"limits.min_notional must be in [0, max_notional={self.max_notional}], "
                f"found {self.min_notional}"
            )


@dataclass(frozen=True)
class EssConfig:
    """Emergency stop: the state at first start and the automatic triggers (0 turns one off)."""

    initial_state: str = "ACTIVE"
    max_drawdown: float = 0.20
    losing_trades: int = 5
    losing_window_s: float = 86_400.0
    quorum_lost_s: float = 300.0
    stale_candles_s: float = 900.0
    """Grace in seconds beyond ``stale_bars`` bars of the timeframe (0: the trigger off)."""
    stale_bars: float = 2.0
    """A symbol is stale after this many bars of its own timeframe plus ``stale_candles_s``: a
    daily symbol after 2 days and 15 min, a 5m one after 25 min."""
    check_interval_s: float = 1.0

    def check(self) -> None:
        if self.initial_state not in ESS_STATES:
            raise ConfigError(
                f"ess.initial_state must be one of {list(ESS_STATES)}, found {self.initial_state!r}"
            )
        if not 0 <= self.max_drawdown < 1:
            raise ConfigError(f"ess.max_drawdown must be in [0, 1), found {self.max_drawdown}")
        if self.losing_trades < 0:
            raise ConfigError(f"ess.losing_trades must be >= 0, found {self.losing_trades}")
        for name in ("losing_window_s", "quorum_lost_s", "stale_candles_s", "stale_bars"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"ess.{name} must be a finite number >= 0, found {value}")
        _positive("ess.check_interval_s", self.check_interval_s)


@dataclass(frozen=True)
class SafetyConfig:
    """Everything the safety layer is configured with."""

    sizing: SizingConfig = field(default_factory=SizingConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    ess: EssConfig = field(default_factory=EssConfig)

    def __post_init__(self) -> None:
        self.sizing.check()
        self.limits.check()
        self.ess.check()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SafetyConfig:
        """From ``{"sizing": {...}, "limits": {...}, "ess": {...}}``; unknown keys refused."""
        kinds = {"sizing": SizingConfig, "limits": LimitsConfig, "ess": EssConfig}
        if unknown := sorted(set(data) - set(kinds)):
            raise ConfigError(
                f"unknown safety section(s) {unknown}; expected some of {list(kinds)}"
            )
        parts: dict[str, Any] = {}
        for name, kind in kinds.items():
            section = data.get(name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"safety section {name!r} must be a table, found {section!r}")
            known = {f.name for f in fields(kind)}
            if bad := sorted(set(section) - known):
                raise ConfigError(
                    f"unknown setting(s) {bad} in [{name}]; expected some of {sorted(known)}"
                )
            try:
                parts[name] = kind(**section)
            except TypeError as exc:
                raise ConfigError(f"[{name}]: {exc}") from exc
        return cls(**parts)

    @classmethod
    def load(cls, path: str | Path | None) -> SafetyConfig:
        """From a .toml or .json file; None: the defaults."""
        if path is None:
            return cls()
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"safety config {path} cannot be read: {exc}") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"safety config {path} is not valid TOML/JSON: {exc}") from exc
        return cls.from_json(data)


def default_config_path(registry: Path) -> Path | None:
    """``safety.toml`` beside the registry when it exists, else None (the defaults)."""
    candidate = registry.resolve().parent / "safety.toml"
    return candidate if candidate.is_file() else None


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0, found {value!r}")

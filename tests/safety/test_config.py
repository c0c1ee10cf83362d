"""The safety config file: TOML or JSON, defaults, and refusals that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_engine.errors import ConfigError
from ai_engine.safety.config import SafetyConfig, default_config_path


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "safety.toml"
    toml.write_text('[limits]\nmax_gross = 2.0\nsymbols = ["A"]\n[ess]\ninitial_state = "HALTED"\n')
    config = SafetyConfig.load(toml)
    assert config.limits.max_gross == 2.0 and config.ess.initial_state == "HALTED"
    assert config.sizing.target_annual_vol == 0.20
    (tmp_path / "s.json").write_text('{"sizing": {"max_leverage": 3}}')
    assert SafetyConfig.load(tmp_path / "s.json").sizing.max_leverage == 3
    assert default_config_path(tmp_path / "registry") == toml
    assert SafetyConfig.load(None) == SafetyConfig()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limit": {}}, "unknown safety section"),
        ({"limits": {"max_gros": 1}}, "max_gros"),
        ({"limits": {"max_gross": -1}}, "limits.max_gross"),
        ({"limits": {"max_open_positions": 0}}, "limits.max_open_positions"),
        ({"limits": {"min_notional": 10, "max_notional": 5}}, "limits.min_notional"),
        ({"sizing": {"interval_coverage": 1.5}}, "sizing.interval_coverage"),
        ({"sizing": {"target_annual_vol": float("nan")}}, "sizing.target_annual_vol"),
        ({"ess": {"initial_state": "PAUSED"}}, "ess.initial_state"),
        ({"ess": {"max_drawdown": 1.5}}, "ess.max_drawdown"),
        ({"ess": {"stale_candles_s": -1}}, "ess.stale_candles_s"),
    ],
)
def test_bad_settings_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SafetyConfig.from_json(data)


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "safety.toml"
    bad.write_text("[limits\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        SafetyConfig.load(bad)

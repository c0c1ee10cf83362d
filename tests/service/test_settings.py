"""ServiceSettings.from_env: defaults, parsed values, and one ConfigError per malformed value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ai_engine.errors import ConfigError
from ai_engine.service import ServiceSettings


def test_no_variables_give_the_defaults() -> None:
    assert ServiceSettings.from_env({}) == ServiceSettings()
    blank = {"AI_ENGINE_MAX_CANDLES": "", "AI_ENGINE_ADMIN_TOKEN": "", "AI_ENGINE_THREADS": ""}
    assert ServiceSettings.from_env(blank) == ServiceSettings()


def test_every_variable_is_read() -> None:
    settings = ServiceSettings.from_env(
        {
            "AI_ENGINE_REGISTRY": "/srv/registry",
            "AI_ENGINE_RELEASE": "candidate",
            "AI_ENGINE_ADMIN_TOKEN": "secret",
            "AI_ENGINE_MAX_CANDLES": " 500 ",
            "AI_ENGINE_WATCH_INTERVAL": "0.5",
            "AI_ENGINE_LOG_LEVEL": "debug",
            "AI_ENGINE_THREADS": "2",
        }
    )
    assert (settings.registry, settings.release, settings.admin_token) == (
        Path("/srv/registry"),
        "candidate",
        "secret",
    )
    assert (settings.max_candles, settings.watch_interval_s, settings.threads) == (500, 0.5, 2)
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("AI_ENGINE_MAX_CANDLES", "ten", "AI_ENGINE_MAX_CANDLES must be an integer, found 'ten'"),
        ("AI_ENGINE_MAX_CANDLES", "1.5", "AI_ENGINE_MAX_CANDLES must be an integer, found '1.5'"),
        ("AI_ENGINE_MAX_CANDLES", "0", "max_candles must be >= 1, found 0"),
        ("AI_ENGINE_THREADS", "many", "AI_ENGINE_THREADS must be an integer, found 'many'"),
        ("AI_ENGINE_THREADS", "-2", "threads must be >= 1, found -2"),
        (
            "AI_ENGINE_WATCH_INTERVAL",
            "soon",
            "AI_ENGINE_WATCH_INTERVAL must be a finite number, found 'soon'",
        ),
        (
            "AI_ENGINE_WATCH_INTERVAL",
            "nan",
            "AI_ENGINE_WATCH_INTERVAL must be a finite number, found 'nan'",
        ),
        (
            "AI_ENGINE_WATCH_INTERVAL",
            "inf",
            "AI_ENGINE_WATCH_INTERVAL must be a finite number, found 'inf'",
        ),
        ("AI_ENGINE_WATCH_INTERVAL", "-1", "watch interval must be >= 0 s, found -1.0"),
        (
            "AI_ENGINE_LOG_LEVEL",
            "verbose",
            "log level must be DEBUG, INFO, WARNING or ERROR, found 'VERBOSE'",
        ),
    ],
)
def test_a_malformed_value_is_a_config_error_naming_it(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        ServiceSettings.from_env({name: raw})

"""ServiceSettings (one pydantic-settings list): defaults, parsed values, one ConfigError per
malformed value, every field a variable that travels to the workers."""

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


SAMPLES = {
    "registry": ("/srv/registry", Path("/srv/registry")),
    "release": ("candidate", "candidate"),
    "admin_token": ("secret-admin", "secret-admin"),
    "trader_keys": ("bot=0123456789abcdef0123", "bot=0123456789abcdef0123"),
    "max_candles": ("500", 500),
    "watch_interval_s": ("0.5", 0.5),
    "pinned_cache": ("2", 2),
    "log_level": ("warning", "WARNING"),
    "threads": ("2", 2),
    "state_url": ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    "safety_config": ("/etc/ai/safety.toml", Path("/etc/ai/safety.toml")),
    "stale_check": ("0", False),
    "shadow": ("candidate", "candidate"),
    "shadow_pending": ("16", 16),
    "shadow_queue": ("8", 8),
    "window_cache": ("0", 0),
    "torch_compile": ("1", True),
    "coverage_ttl_s": ("0.25", 0.25),
    "max_streams": ("32", 32),
    "max_batch": ("8", 8),
}


@pytest.mark.parametrize("name", sorted(ServiceSettings.model_fields))
def test_every_field_is_a_variable_and_travels_in_the_serialised_value(name: str) -> None:
    """One list: each field of the settings class is read from its AI_ENGINE_* variable and
    survives the one serialised value ``serve`` hands its workers."""
    from ai_engine.serving.settings import SERIALISED, variable

    assert name in SAMPLES, f"add a sample value for the new setting {name!r}"
    raw, expected = SAMPLES[name]
    settings = ServiceSettings.from_env({variable(name, ServiceSettings.model_fields[name]): raw})
    assert getattr(settings, name) == expected
    assert getattr(ServiceSettings(), name) != expected  # the sample is not the default
    assert ServiceSettings.from_env({SERIALISED: settings.serialised()}) == settings


def test_serve_offers_a_flag_for_the_settings_an_operator_tunes() -> None:
    from typer.testing import CliRunner

    from ai_engine.cli import app

    shown = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    for flag in ("--stale-check", "--window-cache", "--torch-compile", "--shadow-pending"):
        assert flag in shown


def test_serves_flags_go_over_the_variables_and_the_rest_still_come_from_them() -> None:
    environ = {"AI_ENGINE_ADMIN_TOKEN": "from-env", "AI_ENGINE_MAX_CANDLES": "500"}
    settings = ServiceSettings.from_env(environ, max_candles=900, release="candidate")
    assert (settings.admin_token, settings.max_candles, settings.release) == (
        "from-env",
        900,
        "candidate",
    )

"""The service's one settings list: a pydantic-settings class, every field an ``AI_ENGINE_*``
variable (``env_prefix``), given to ``serve`` workers as one serialised value
(``AI_ENGINE_SETTINGS``, JSON). The ``serve`` command passes only the flags it was given.

- ``AI_ENGINE_REGISTRY`` (``registry``): the registry folder
- ``AI_ENGINE_RELEASE`` (``production``): alias (watched for changes) or release id to serve
- ``AI_ENGINE_ADMIN_TOKEN`` (unset): Bearer token of the admin endpoints; unset: disabled (403)
- ``AI_ENGINE_TRADER_KEYS`` (unset): Bearer keys of the write endpoints, each naming its owner:
  ``owner=key[,owner=key...]`` or the path of a file of ``owner = key`` lines; unset: the key
  file beside the state store, created at first start for ``engine`` (safety/keys.py)
- ``AI_ENGINE_MAX_CANDLES`` (10000): most candles one request may carry
- ``AI_ENGINE_WATCH_INTERVAL`` (2.0): seconds between alias checks; 0 turns watching off
- ``AI_ENGINE_LOG_LEVEL`` (INFO): level of the JSON log lines
- ``AI_ENGINE_THREADS`` (1): compute threads per process (OpenMP, PyTorch); one request's
  batch of one row gains nothing from more, and spinning threads starve the other workers
- ``AI_ENGINE_STATE_URL`` (``sqlite:///<beside the registry>/state.db``): the safety state store
- ``AI_ENGINE_SAFETY_CONFIG`` (``safety.toml`` beside the registry, if any): limits and triggers
- ``AI_ENGINE_SHADOW`` (unset): alias computed beside the served one, logged and scored, never
  answered (e.g. ``candidate``; serving/shadow.py)
- ``AI_ENGINE_SHADOW_PENDING`` (512): most bars per symbol waiting for their outcome
- ``AI_ENGINE_WINDOW_CACHE`` (1024): candle windows whose features, member forecasts and
  decision are remembered (a window sent again skips them; gates and stamps are made anew), and
  as many /v1/signal and /v1/forecast bodies whose parsed and validated candles are (a body
  sent again skips parsing and validation; body_cache.py); 0 turns both off
- ``AI_ENGINE_TORCH_COMPILE`` (0): 1 compiles the served release's PyTorch members for one-row
  predictions (``torch.compile``, needs a C++ compiler) after each load: seconds more per load,
  a fraction of their CPU per one-row call; a member that fails to compile stays eager
- ``AI_ENGINE_STALE_CHECK`` (1): 0 turns the stale-candle gate off (e.g. to replay history)
- ``AI_ENGINE_PINNED_CACHE`` (4): releases asked for by ``?release=`` or routed to, kept loaded
- ``AI_ENGINE_COVERAGE_TTL`` (2.0): seconds the alias listing (what each release covers) is reused
- ``AI_ENGINE_SHADOW_QUEUE`` (64): shadow jobs waiting for the shadow's worker (more: dropped)
- ``AI_ENGINE_MAX_STREAMS`` (4096): stream windows kept (least recently used out first)
- ``AI_ENGINE_MAX_BATCH`` (64): most requests' rows one batched predict call takes
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, JsonValue, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ai_engine.errors import ConfigError
from ai_engine.registry import DEFAULT_ALIAS

PREFIX = "AI_ENGINE_"
SERIALISED = "AI_ENGINE_SETTINGS"
"""The variable ``serve`` hands its workers the whole settings in (JSON)."""
BYTES_PER_CANDLE = 512
"""Generous JSON size of one candle; the body limit is ``max_candles`` of them plus 64 KiB."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _env(name: str) -> dict[str, JsonValue]:
    """A field's variable when it is not PREFIX + its name in capitals."""
    return {"env": PREFIX + name}


class ServiceSettings(BaseSettings):
    """Everything the service is configured with (frozen; equal when every field is)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    registry: Path = Path("registry")
    release: str = DEFAULT_ALIAS
    admin_token: str | None = None
    trader_keys: str | None = None
    """AI_ENGINE_TRADER_KEYS as given (inline pairs or a key file's path; safety/keys.py)."""
    max_candles: int = 10_000
    watch_interval_s: float = Field(
        2.0, allow_inf_nan=False, json_schema_extra=_env("WATCH_INTERVAL")
    )
    pinned_cache: int = 4
    log_level: str = "INFO"
    threads: int = 1
    state_url: str | None = None
    safety_config: Path | None = None
    stale_check: bool = True
    """HOLD with reason ``stale_data`` when the last candle is older than two bars by the
    wall clock (AI_ENGINE_STALE_CHECK=0 turns it off, e.g. to replay history)."""
    shadow: str | None = None
    shadow_pending: int = 512
    shadow_queue: int = 64
    window_cache: int = 1024
    torch_compile: bool = False
    """Compile the served release's PyTorch members for one-row predictions after each load
    (AI_ENGINE_TORCH_COMPILE=1): seconds more per load, a fraction of their CPU per call."""
    coverage_ttl_s: float = Field(2.0, allow_inf_nan=False, json_schema_extra=_env("COVERAGE_TTL"))
    max_streams: int = 4096
    max_batch: int = 64

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def model_post_init(self, context: Any, /) -> None:
        at_least = {
            "max_candles": (1, "max_candles must be >= 1"),
            "threads": (1, "threads must be >= 1"),
            "pinned_cache": (1, "pinned cache must be >= 1 release"),
            "shadow_pending": (1, "shadow pending cap must be >= 1"),
            "shadow_queue": (1, "shadow queue must be >= 1 job"),
            "window_cache": (0, "window cache must be >= 0 entries"),
            "max_streams": (1, "max streams must be >= 1"),
            "max_batch": (1, "max batch must be >= 1 request"),
            "watch_interval_s": (0, "watch interval must be >= 0 s"),
            "coverage_ttl_s": (0, "coverage TTL must be >= 0 s"),
        }
        for name, (low, text) in at_least.items():
            if getattr(self, name) < low:
                raise ConfigError(f"{text}, found {getattr(self, name)}")
        if self.trader_keys and "=" in self.trader_keys:  # inline pairs: refused at once
            from ai_engine.safety.keys import parse_inline

            parse_inline(self.trader_keys)
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(
                f"log level must be DEBUG, INFO, WARNING or ERROR, found {self.log_level!r}"
            )

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted (413 above it), derived from ``max_candles``."""
        return 65_536 + self.max_candles * BYTES_PER_CANDLE

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Given values first, then ``AI_ENGINE_*`` variables (blank ones ignored); no files."""
        return init_settings, Variables(settings_cls, os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, /, **given: Any) -> ServiceSettings:
        """Settings from ``AI_ENGINE_*`` variables (``AI_ENGINE_SETTINGS``: the whole settings
        as JSON, from ``serve``), ``given`` values (the flags of ``serve``) over them; a
        malformed value is a ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        try:
            if env.get(SERIALISED) and not given:
                return cls.model_validate_json(env[SERIALISED])
            return cls.model_validate({**Variables(cls, env)(), **given})
        except ValidationError as exc:
            raise config_error(exc, env) from None

    def serialised(self) -> str:
        """The whole settings as one JSON value (``AI_ENGINE_SETTINGS``)."""
        return self.model_dump_json()


def variable(name: str, field: FieldInfo) -> str:
    """The ``AI_ENGINE_*`` variable of the field ``name``."""
    extra = field.json_schema_extra
    given = extra.get("env") if isinstance(extra, dict) else None
    return str(given) if given else PREFIX + name.upper()


class Variables(PydanticBaseSettingsSource):
    """The fields' values from a mapping of variables (``os.environ`` or one given)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raw = self.environ.get(variable(field_name, field), "").strip()
        return (raw or None), field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                found[name] = value
        return found


def config_error(exc: ValidationError, environ: Mapping[str, str]) -> ConfigError:
    """The first error of ``exc`` as the variable it came from and what was expected."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    field = ServiceSettings.model_fields.get(name)
    if field is None:
        return ConfigError(f"settings: {error['msg']}")
    var = variable(name, field)
    raw = environ.get(var, "").strip()
    if error["type"].startswith("int"):
        return ConfigError(f"{var} must be an integer, found {raw!r}")
    if error["type"].startswith("float") or error["type"] == "finite_number":
        return ConfigError(f"{var} must be a finite number, found {raw!r}")
    if error["type"].startswith("bool"):
        return ConfigError(f"{var} must be 0, 1, true or false, found {raw!r}")
    return ConfigError(f"{var}: {error['msg']}, found {json.dumps(raw)}")

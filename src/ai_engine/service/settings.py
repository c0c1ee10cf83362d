"""Service settings, read from environment variables (the ``serve`` command sets them too).

- ``AI_ENGINE_REGISTRY`` (``registry``): the registry folder
- ``AI_ENGINE_RELEASE`` (``production``): alias (watched for changes) or release id to serve
- ``AI_ENGINE_ADMIN_TOKEN`` (unset): Bearer token of the admin endpoints; unset: disabled (403)
- ``AI_ENGINE_TRADER_KEYS`` (unset): Bearer keys of the write endpoints, each naming its owner:
  ``owner=key[,owner=key...]`` or the path of a file of ``owner = key`` lines; unset: the key
  file beside the state store, created at first start for ``engine`` (service/keys.py)
- ``AI_ENGINE_MAX_CANDLES`` (10000): most candles one request may carry
- ``AI_ENGINE_WATCH_INTERVAL`` (2.0): seconds between alias checks; 0 turns watching off
- ``AI_ENGINE_LOG_LEVEL`` (INFO): level of the JSON log lines
- ``AI_ENGINE_THREADS`` (1): compute threads per process (OpenMP, PyTorch); one request's
  batch of one row gains nothing from more, and spinning threads starve the other workers
- ``AI_ENGINE_STATE_URL`` (``sqlite:///<beside the registry>/state.db``): the safety state store
- ``AI_ENGINE_SAFETY_CONFIG`` (``safety.toml`` beside the registry, if any): limits and triggers
- ``AI_ENGINE_SHADOW`` (unset): alias computed beside the served one, logged and scored, never
  answered (e.g. ``candidate``; service/shadow.py)
- ``AI_ENGINE_SHADOW_PENDING`` (512): most bars per symbol waiting for their outcome
- ``AI_ENGINE_WINDOW_CACHE`` (1024): candle windows whose features, member forecasts and
  decision are remembered (a window sent again skips them; gates and stamps are made anew), and
  as many /v1/signal and /v1/forecast bodies whose parsed and validated candles are (a body
  sent again skips parsing and validation; body_cache.py); 0 turns both off
- ``AI_ENGINE_TORCH_COMPILE`` (0): 1 compiles the served release's PyTorch members for one-row
  predictions (``torch.compile``, needs a C++ compiler) after each load: seconds more per load,
  a fraction of their CPU per one-row call; a member that fails to compile stays eager
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ai_engine.errors import ConfigError
from ai_engine.registry import DEFAULT_ALIAS

T = TypeVar("T", int, float)

BYTES_PER_CANDLE = 512
"""Generous JSON size of one candle; the body limit is ``max_candles`` of them plus 64 KiB."""


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the service is configured with."""

    registry: Path = Path("registry")
    release: str = DEFAULT_ALIAS
    admin_token: str | None = None
    trader_keys: str | None = None
    """AI_ENGINE_TRADER_KEYS as given (inline pairs or a key file's path; service/keys.py)."""
    max_candles: int = 10_000
    watch_interval_s: float = 2.0
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
    window_cache: int = 1024
    torch_compile: bool = False
    """Compile the served release's PyTorch members for one-row predictions after each load
    (AI_ENGINE_TORCH_COMPILE=1): seconds more per load, a fraction of their CPU per call."""

    def __post_init__(self) -> None:
        if self.max_candles < 1:
            raise ConfigError(f"max_candles must be >= 1, found {self.max_candles}")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, found {self.threads}")
        if self.shadow_pending < 1:
            raise ConfigError(f"shadow pending cap must be >= 1, found {self.shadow_pending}")
        if self.window_cache < 0:
            raise ConfigError(f"window cache must be >= 0 entries, found {self.window_cache}")
        if self.watch_interval_s < 0:
            raise ConfigError(f"watch interval must be >= 0 s, found {self.watch_interval_s}")
        if self.trader_keys and "=" in self.trader_keys:  # inline pairs: refused at once
            from ai_engine.service.keys import parse_inline

            parse_inline(self.trader_keys)
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"log level must be DEBUG, INFO, WARNING or ERROR, found {self.log_level!r}"
            )

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted (413 above it), derived from ``max_candles``."""
        return 65_536 + self.max_candles * BYTES_PER_CANDLE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Settings from ``AI_ENGINE_*`` variables; a malformed value is a ConfigError."""
        env = os.environ if environ is None else environ
        return cls(
            registry=Path(env.get("AI_ENGINE_REGISTRY", "registry")),
            release=env.get("AI_ENGINE_RELEASE", DEFAULT_ALIAS),
            admin_token=env.get("AI_ENGINE_ADMIN_TOKEN") or None,
            trader_keys=env.get("AI_ENGINE_TRADER_KEYS") or None,
            max_candles=_number(env, "AI_ENGINE_MAX_CANDLES", 10_000, int),
            watch_interval_s=_number(env, "AI_ENGINE_WATCH_INTERVAL", 2.0, float),
            log_level=env.get("AI_ENGINE_LOG_LEVEL", "INFO").upper(),
            threads=_number(env, "AI_ENGINE_THREADS", 1, int),
            state_url=env.get("AI_ENGINE_STATE_URL") or None,
            safety_config=Path(env["AI_ENGINE_SAFETY_CONFIG"])
            if env.get("AI_ENGINE_SAFETY_CONFIG")
            else None,
            stale_check=_flag(env, "AI_ENGINE_STALE_CHECK", True),
            shadow=env.get("AI_ENGINE_SHADOW") or None,
            shadow_pending=_number(env, "AI_ENGINE_SHADOW_PENDING", 512, int),
            window_cache=_number(env, "AI_ENGINE_WINDOW_CACHE", 1024, int),
            torch_compile=_flag(env, "AI_ENGINE_TORCH_COMPILE", False),
        )


def _number(env: Mapping[str, str], name: str, default: T, kind: type[T]) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ConfigError(
            f"{name} must be a{'n integer' if kind is int else ' finite number'}, found {raw!r}"
        )
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("0", "1", "true", "false"):
        raise ConfigError(f"{name} must be 0, 1, true or false, found {raw!r}")
    return raw in ("1", "true")

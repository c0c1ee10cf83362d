"""What routes depend on: the service's state, the engine for a request, the key checks
(trader keys and the admin token) and the JSON-only rule of the write endpoints."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ai_engine.safety.keys import ADMIN_IDENTITY, TraderKeys
from ai_engine.service.body import CONTENT_TYPE
from ai_engine.service.body_cache import BodyCache
from ai_engine.service.observability import Metrics
from ai_engine.serving import Signals
from ai_engine.serving.batcher import ForecastBatcher
from ai_engine.serving.holder import EngineHolder
from ai_engine.serving.recent import RecentSignals
from ai_engine.serving.settings import ServiceSettings
from ai_engine.serving.stream_window import StreamWindows

if TYPE_CHECKING:
    from ai_engine.serving.shadow import ShadowRunner


@dataclass(frozen=True)
class ServiceState:
    """Everything a route needs, kept on ``app.state.service``."""

    settings: ServiceSettings
    holder: EngineHolder
    metrics: Metrics
    batcher: ForecastBatcher
    signals: Signals
    """The data plane: every route's series routing, signal and forecast (ai_engine.serving)."""
    recent: RecentSignals
    """The newest signals and candle windows this process served (the operator page's)."""
    streams: StreamWindows
    """/v1/stream's windows per (symbol, timeframe), at most ``settings.max_streams``."""
    shadow: ShadowRunner | None = None
    """The shadow alias's runner (AI_ENGINE_SHADOW), or None."""
    bodies: BodyCache = field(default_factory=lambda: BodyCache(0))
    """The candle routes' parsed bodies and validated candles (body_cache.py); 0 entries: off."""


async def get_service(request: Request) -> ServiceState:
    """The service's state (async: a sync dependency would cost a threadpool hop)."""
    service: ServiceState = request.app.state.service
    return service


Service = Annotated[ServiceState, Depends(get_service)]

ReleaseQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$",
        description="Release id or alias (production@<model_set> too) to answer with; default: "
        "the served release, or the one whose coverage holds the symbol.",
    ),
]


_bearer = HTTPBearer(auto_error=False, description="AI_ENGINE_ADMIN_TOKEN")


async def require_admin(
    service: Service,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """403 while no admin token is configured; 401 unless the Bearer token matches it."""
    token = service.settings.admin_token
    if not token:
        raise HTTPException(
            403, "admin endpoints are disabled: set AI_ENGINE_ADMIN_TOKEN to enable them"
        )
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401,
            "expected the header Authorization: Bearer <admin token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


Admin = Depends(require_admin)


@dataclass(frozen=True)
class Caller:
    """Who a request's key says it is: the admin, or the owner a trader key names."""

    identity: str
    admin: bool

    def owner(self, named: str | None, default: str | None = None) -> str | None:
        """The owner a write acts for: the key's (a body naming another is 403); the admin
        key acts for ``named``, else ``default``."""
        if self.admin:
            return named if named is not None else default
        if named is not None and named != self.identity:
            raise HTTPException(
                403,
                f"owner: this key writes for {self.identity!r} only and the request names "
                "another owner; use that owner's key, or the admin key to act for any owner",
            )
        return self.identity


async def require_key(
    request: Request,
    service: Service,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """401 unless the Bearer key is a trader key (AI_ENGINE_TRADER_KEYS, or the key file
    beside the state store) or the admin token; constant-time compares."""
    given = credentials.credentials if credentials is not None else ""
    token = service.settings.admin_token
    admin = bool(token) and hmac.compare_digest(given.encode(), (token or "").encode())
    keys: TraderKeys | None = getattr(request.app.state, "keys", None)
    owner = keys.owner_of(given) if keys is not None and given else None
    if admin:
        return Caller(ADMIN_IDENTITY, True)
    if owner is not None:
        return Caller(owner, False)
    raise HTTPException(
        401,
        "expected the header Authorization: Bearer <key>, a trader key (AI_ENGINE_TRADER_KEYS, "
        "else the 'keys' file beside the state store) or the admin token",
        headers={"WWW-Authenticate": "Bearer"},
    )


Key = Depends(require_key)
KeyCaller = Annotated[Caller, Depends(require_key)]


async def require_json(request: Request) -> None:
    """415 unless a write's Content-Type is application/json: a browser sends text/plain and
    form bodies cross-site without asking, never application/json."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.scope.get(CONTENT_TYPE, request.headers.get("content-type"))
    if (given or "").split(";")[0].strip().lower() != "application/json":
        found = "none" if not given else repr(given[:64])
        raise HTTPException(
            415, f"expected Content-Type: application/json on a write, found {found}"
        )


JsonOnly = Depends(require_json)

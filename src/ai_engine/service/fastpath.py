"""The fast path of the candle routes, beside their ordinary FastAPI handler.

A route of class ``FastRoute`` whose endpoint has a fast handler (``fast_path``) first offers
each request to it: the handler parses the body with orjson into numpy columns, validates them
with whole-array checks (``candle_arrays``) and answers with ``JSONBytes``, one orjson pass.
When the body is anything but the plain case the fast handler returns None and the ordinary
handler runs (pydantic, ``response_model`` validation), so the OpenAPI schema stays the one
that refuses bad input, and ``tests/service`` checks that both paths give the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from fastapi import Request
from starlette.responses import Response

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import Candles, ValidationSettings
from ai_engine.engine import Engine
from ai_engine.errors import DataValidationError, InputError
from ai_engine.service.candle_guard import GuardedRoute
from ai_engine.service.deps import ServiceState
from ai_engine.service.fastjson import JSONBytes, ParsedCandles, parse_candles
from ai_engine.service.inference import COLUMN_NAMES, validated_candles
from ai_engine.service.routing import routed_engine
from ai_engine.serving.batcher import window_digest

FastHandler = Callable[[Request], Awaitable[Response | None]]


class Answer(Protocol):
    """A route's answer to validated candles (routes/signal.py's ``answer_*``)."""

    def __call__(
        self,
        request: Request,
        service: ServiceState,
        engine: Engine,
        candles: Candles,
        digest: bytes | None = None,
    ) -> Awaitable[dict[str, Any]]: ...


RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""``ReleaseQuery``'s pattern; any other query string goes the ordinary way."""
_FAST: dict[Callable[..., Any], FastHandler] = {}


def fast_path(endpoint: Callable[..., Any], handler: FastHandler) -> None:
    """Offer ``endpoint``'s requests to ``handler`` first (its route must be a FastRoute)."""
    _FAST[endpoint] = handler


class FastRoute(GuardedRoute):
    """A GuardedRoute that tries its endpoint's fast handler before the guarded ordinary one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        ordinary = super().get_route_handler()
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            fast = _FAST.get(endpoint)
            if fast is not None:
                response = await fast(request)
                if response is not None:
                    return response
            return await ordinary(request)

        return handler


def release_query(request: Request) -> tuple[bool, str | None]:
    """``(usable, release)``: the ``?release=`` value when it is the only query parameter and
    matches the schema's pattern (or absent); not usable otherwise."""
    params = request.query_params
    if not params:
        return True, None
    value = params.get("release")
    if len(params) != 1 or value is None or RELEASE.fullmatch(value) is None:
        return False, None
    return True, value


def arrays_candles(
    parsed: ParsedCandles, engine: Engine, max_candles: int, symbol: str, timeframe: str
) -> Candles:
    """``inference.validated_candles`` for parsed arrays: the same limits, checks and errors."""
    count = len(parsed.times)
    times_ns = parsed.times_ns() if count <= max_candles else None
    mismatch = engine.timeframe_error(timeframe)
    if times_ns is None or mismatch is not None:  # the ordinary checks say why
        columns = {"date": parsed.date_column()}
        columns.update(zip(COLUMN_NAMES[1:], parsed.values.T.tolist(), strict=True))
        return validated_candles(columns, parsed.loc, symbol, timeframe, engine, max_candles)
    settings = ValidationSettings(min_rows=engine.required_candles)
    try:
        return candles_from_arrays(
            times_ns, parsed.values, symbol, timeframe, settings, ".".join(map(str, parsed.loc))
        )
    except DataValidationError as exc:
        raise InputError(parsed.loc, str(exc)) from exc


def candles_handler(answer: Answer) -> FastHandler:
    """A fast handler for a ``CandlesIn`` route (/v1/signal, /v1/forecast) answering with
    ``answer``; the ordinary handler takes over for any unusual request."""

    async def handler(request: Request) -> Response | None:
        usable, release = release_query(request)
        if not usable:
            return None
        service: ServiceState = request.app.state.service
        bodies = service.bodies
        body = await request.body()
        key = bodies.key(body) if bodies.enabled else b""  # off: nothing is kept (Recent(0))
        parsed = bodies.parsed.get(key)
        if parsed is None:
            parsed = parse_candles(body)
            if parsed is None:
                return None
            bodies.parsed.put(key, parsed)
        engine = await routed_engine(request, service, release, parsed.symbol, parsed.timeframe)
        validated = bodies.candles.get((engine.release.id, key))
        if validated is None:
            candles = arrays_candles(
                parsed, engine, service.settings.max_candles, parsed.symbol, parsed.timeframe
            )
            validated = (candles, window_digest(candles) if bodies.enabled else None)
            bodies.candles.put((engine.release.id, key), validated)
        return JSONBytes(await answer(request, service, engine, *validated))

    return handler

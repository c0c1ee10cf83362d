"""The candle routes' one handler: the raw body parsed fast, pydantic only to word a refusal.

Each candle route (/v1/signal, /v1/forecast, /v1/stream) is one ordinary FastAPI endpoint, so
its router's dependencies (auth, rate limits) and the query's ``ReleaseQuery`` run on every
request. The endpoint reads the raw body itself: a plain body (``fastjson.parse_candles``:
orjson into numpy columns) is validated with whole-array checks (``candle_arrays``) and answered
with ``JSONBytes``, one orjson pass. Any other body goes to ``read_body``: the candle guard
(``candle_guard.check_candles``) and then the wire's pydantic model, which either words the
error (4xx naming the field, as FastAPI's own body parsing would) or accepts what the fast
parse would not (then the core's column parser reads it). ``request_body`` keeps the OpenAPI
schema of the request body the model's (``openapi_extra``; ``add_body_schemas`` registers it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_TEMPLATE
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.responses import Response

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import Candles, ValidationSettings
from ai_engine.engine import Engine
from ai_engine.errors import DataValidationError, InputError
from ai_engine.service.candle_guard import check_candles
from ai_engine.service.deps import ServiceState
from ai_engine.service.fastjson import JSONBytes, ParsedCandles, parse_candles
from ai_engine.service.inference import COLUMN_NAMES, columns_of, validated_candles
from ai_engine.service.routing import routed_engine
from ai_engine.service.schemas import CandlesIn
from ai_engine.serving.batcher import window_digest

Model = TypeVar("Model", bound=BaseModel)


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


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads its body itself: the body is ``model``."""
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


def add_body_schemas(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Register ``models`` (and the models they use) under the OpenAPI components, as FastAPI
    does for a body parameter, so ``request_body``'s references resolve."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        wanted = [(model, "validation") for model in models]
        _, found = models_json_schema(wanted, ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in found.get("$defs", {}).items():
            components.setdefault(name, _without_none(definition))
        schema["components"]["schemas"] = dict(sorted(components.items()))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _without_none(value: Any) -> Any:
    """``value`` without None entries, as FastAPI writes its schema (``exclude_none``)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def read_body(model: type[Model], body: bytes, max_candles: int) -> Model:
    """``body`` read by ``model`` as FastAPI reads a JSON body parameter (the same errors, loc
    under ``body``), after the candle guard's bounds on rows."""
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        why = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**why, "input": {}, "ctx": {"error": exc.msg}}]) from exc
    except (ValueError, RecursionError) as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    check_candles(data, max_candles)
    try:
        return model.model_validate(data, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


def arrays_candles(
    parsed: ParsedCandles, engine: Engine, max_candles: int, symbol: str, timeframe: str
) -> Candles:
    """``inference.validated_candles`` for parsed arrays: the same limits, checks and errors."""
    count = len(parsed.times)
    times_ns = parsed.times_ns() if count <= max_candles else None
    mismatch = engine.timeframe_error(timeframe)
    if times_ns is None or mismatch is not None:  # the column checks say why
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


async def answer_candles(request: Request, release: str | None, answer: Answer) -> Response:
    """A ``CandlesIn`` route's answer (/v1/signal, /v1/forecast): the body parsed fast and its
    parse and validated candles remembered (body_cache.py), else read by ``CandlesIn``."""
    service: ServiceState = request.app.state.service  # not a dependency: one solve less
    bodies = service.bodies
    body = await request.body()
    key = bodies.key(body) if bodies.enabled else b""  # off: nothing is kept (Recent(0))
    parsed = bodies.parsed.get(key)
    if parsed is None:
        parsed = parse_candles(body)
        if parsed is None:  # not the plain case: pydantic words the error, or reads it
            model = read_body(CandlesIn, body, service.settings.max_candles)
            engine = await routed_engine(request, service, release, model.symbol, model.timeframe)
            candles = validated_candles(
                *columns_of(model),
                model.symbol,
                model.timeframe,
                engine,
                service.settings.max_candles,
            )
            return JSONBytes(await answer(request, service, engine, candles))
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

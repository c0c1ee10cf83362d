"""The app factory: settings -> holder + metrics -> routers, error handlers, middleware.

``create_app()`` with no argument reads ``AI_ENGINE_*`` variables (see settings.py), which is
how ``ai-engine serve`` starts uvicorn with ``factory=True`` (one or several workers).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

import ai_engine
from ai_engine.errors import (
    AIEngineError,
    ConsensusError,
    ContractViolation,
    DataValidationError,
    EngineUnavailable,
    InputError,
    NotFound,
    PromotionRefused,
    StreamConflict,
)
from ai_engine.models.onnx_runtime import set_threads as set_onnx_threads
from ai_engine.safety.keys import service_keys
from ai_engine.service.body import JsonBodyMiddleware
from ai_engine.service.body_cache import BodyCache
from ai_engine.service.deps import ServiceState
from ai_engine.service.fastpath import add_body_schemas
from ai_engine.service.logqueue import DroppedLogRecords, stop_writer
from ai_engine.service.observability import (
    LOGGER_NAME,
    UVICORN_LOG_CONFIG,
    Metrics,
    ObservabilityMiddleware,
    configure_logging,
)
from ai_engine.service.routes import (
    account,
    contract,
    ess,
    fills,
    health,
    limits,
    metrics,
    models,
    oip,
    positions,
    risk,
    signal,
    status,
    stream,
    ui,
)
from ai_engine.service.safety import install_safety
from ai_engine.service.schemas import CandlesIn
from ai_engine.serving import Router, Signals
from ai_engine.serving.batcher import ForecastBatcher
from ai_engine.serving.holder import EngineHolder
from ai_engine.serving.recent import RecentSignals
from ai_engine.serving.settings import SERIALISED, ServiceSettings
from ai_engine.serving.shadow import ShadowRunner
from ai_engine.serving.stream_window import StreamWindows

log = logging.getLogger(LOGGER_NAME)
MAX_ERROR_ITEMS = 20


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """A FastAPI app serving ``settings.release`` from ``settings.registry``."""
    settings = settings or ServiceSettings.from_env()
    configure_logging(settings.log_level)
    set_onnx_threads(settings.threads)  # the sessions of the PyTorch members' model.onnx
    service_metrics = Metrics()
    service_metrics.registry.register(DroppedLogRecords())
    holder = EngineHolder(
        settings.registry,
        settings.release,
        service_metrics,
        settings.pinned_cache,
        settings.torch_compile,
    )

    shadow = ShadowRunner(settings, service_metrics) if settings.shadow else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        app.state.keys = service_keys(  # the write endpoints' keys; a malformed one fails here
            settings.registry, settings.state_url, settings.trader_keys
        )
        safety.start()  # the ESS is read before anything is served; an unusable store fails
        holder.start(settings.watch_interval_s)
        if shadow is not None:
            shadow.start(settings.watch_interval_s)
        yield
        if shadow is not None:
            shadow.stop()
        holder.stop()
        safety.stop()
        stop_writer()  # the last requests' lines are written; uvicorn's last ones as they come

    app = FastAPI(
        title="quantum-ai-engine",
        version=ai_engine.__version__,
        lifespan=lifespan,
        description="Four forecasters, one consensus BUY/SELL/HOLD signal. See docs/api.md.",
    )
    batcher = ForecastBatcher(
        on_batch=service_metrics.batch_size.observe,
        window_entries=settings.window_cache,
        max_batch=settings.max_batch,
        on_window=service_metrics.window_seen,
    )
    signals = Signals(
        Router(holder, settings.coverage_ttl_s), batcher=batcher, stale_check=settings.stale_check
    )
    recent = RecentSignals()
    signals.observers.append(lambda made, _: service_metrics.signals.labels(made["action"]).inc())
    signals.observers.append(recent)
    if shadow is not None:  # read, never changed, by the shadow's worker thread
        signals.observers.append(lambda made, candles: shadow.submit(candles, made))
    app.state.service = ServiceState(
        settings,
        holder,
        service_metrics,
        batcher,
        signals,
        recent,
        StreamWindows(settings.max_streams),
        shadow,
        BodyCache(settings.window_cache),
    )
    for module in (signal, stream, models, health, oip, metrics, contract, ui):
        app.include_router(module.router)
    add_body_schemas(app, (CandlesIn, stream.StreamIn))  # the candle routes read their bodies
    safety = install_safety(app, settings, service_metrics, holder, signals.router)
    for module in (account, fills, risk, ess, limits, status, positions):
        app.include_router(module.router)
    app.add_middleware(JsonBodyMiddleware)  # inside the observability one: its 400s are counted
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=service_metrics,
        max_body_bytes=settings.max_body_bytes,
        served_release=lambda: holder.release_id,
    )
    _add_error_handlers(app, service_metrics)
    return app


def _error(
    request: Request,
    status: int,
    message: str,
    detail: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``{"error", "detail"}`` on /v1 and /health; ``{"error"}`` alone on /v2 (OIP)."""
    body: dict[str, Any] = {"error": message}
    if not request.url.path.startswith("/v2"):
        body["detail"] = detail or []
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _add_error_handlers(app: FastAPI, service_metrics: Metrics) -> None:
    bad_request = {True: 400, False: 422}  # OIP v2 answers 400; /v1 answers 422

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = next((e for e in errors if e["type"] == "json_invalid"), None)
        if broken is not None:  # not JSON at all: 400 everywhere, as docs/api.md says
            why = broken.get("ctx", {}).get("error", "invalid JSON")
            at = broken["loc"][-1]
            message = f"body: expected a JSON object, found text that is not JSON ({why} at {at})"
            item = {"loc": ["body"], "msg": message, "type": "json_invalid"}
            return _error(request, 400, message, [item])
        items = [
            {"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])}
            for e in errors[:MAX_ERROR_ITEMS]
        ]  # never echo the input: it may hold NaN
        message = "; ".join(f"{_dotted(i['loc'])}: {i['msg']}" for i in items[:3])
        total = getattr(exc, "total", len(errors))  # candle_guard lists the first few only
        if total > 3:
            message += f" (and {total - 3} more)"
        return _error(request, bad_request[request.url.path.startswith("/v2")], message, items)

    @app.exception_handler(DataValidationError)
    async def invalid_data(request: Request, exc: DataValidationError) -> JSONResponse:
        loc = exc.loc if isinstance(exc, InputError) else ["body"]
        item = {"loc": loc, "msg": str(exc), "type": "value_error.candles"}
        return _error(request, bad_request[request.url.path.startswith("/v2")], str(exc), [item])

    @app.exception_handler(StreamConflict)
    async def stream_conflict(request: Request, exc: StreamConflict) -> JSONResponse:
        item = {"loc": exc.loc, "msg": str(exc), "type": "stream_conflict"}
        return _error(request, 409, str(exc), [item])

    @app.exception_handler(ConsensusError)
    async def no_consensus(request: Request, exc: ConsensusError) -> JSONResponse:
        service_metrics.refusals.inc()
        return _error(request, 503, f"ConsensusError: {exc}")

    @app.exception_handler(EngineUnavailable)
    async def unavailable(request: Request, exc: EngineUnavailable) -> JSONResponse:
        return _error(request, 503, f"not ready: {exc}")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _error(request, 404, str(exc))

    @app.exception_handler(PromotionRefused)
    async def refused(request: Request, exc: PromotionRefused) -> JSONResponse:
        return _error(request, 409, str(exc))

    @app.exception_handler(ContractViolation)
    async def untrusted(request: Request, exc: ContractViolation) -> JSONResponse:
        item = {"loc": ["body", "signal"], "msg": str(exc), "type": exc.code}
        return _error(request, 409, f"ContractViolation: {exc}", [item])

    @app.exception_handler(AIEngineError)
    async def engine_error(request: Request, exc: AIEngineError) -> JSONResponse:
        log.error(
            "engine error",
            extra={
                "event": "engine_error",
                "path": request.url.path,
                "error": f"{type(exc).__name__}: {exc}",
            },
        )
        return _error(request, 500, f"{type(exc).__name__}: {exc}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # Starlette lists the first route's methods only
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return _error(request, exc.status_code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method of every route on the request's path (GET and POST /v1/account are two)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def serve(
    settings: ServiceSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Run uvicorn on ``create_app`` (the settings travel to each worker as one serialised
    value, ``AI_ENGINE_SETTINGS``).

    The compute thread count is set before any model library is imported (OMP_NUM_THREADS).
    """
    import uvicorn

    threads = str(settings.threads)
    os.environ.update({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
    os.environ[SERIALISED] = settings.serialised()  # every worker reads the same settings
    uvicorn.run(
        "ai_engine.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=UVICORN_LOG_CONFIG,
        access_log=False,
        timeout_graceful_shutdown=10,
    )

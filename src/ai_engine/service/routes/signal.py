"""POST /v1/signal and /v1/forecast: candles in, the ensemble's answer for the last candle out.

Each route is one handler that reads the raw body itself (fastpath.py: orjson and numpy, one
orjson pass out; pydantic's ``CandlesIn`` only for a body the fast parse refuses, to word the
error). ``response_model`` and ``openapi_extra`` keep the OpenAPI schema of both bodies; the
answers are checked against ``SignalOut`` / ``ForecastOut`` in tests/service.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ai_engine.data import Candles
from ai_engine.engine import Engine
from ai_engine.service.deps import ReleaseQuery, ServiceState
from ai_engine.service.fastpath import answer_candles, request_body
from ai_engine.service.schemas import CandlesIn, ErrorOut, ForecastOut, SignalOut

router = APIRouter(prefix="/v1", tags=["signal"])
BODY = request_body(CandlesIn)
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the body cannot be read"},
    404: {
        "model": ErrorOut,
        "description": "the pinned release does not exist, or no release covers the symbol",
    },
    413: {"model": ErrorOut, "description": "body larger than the configured candle limit allows"},
    422: {"model": ErrorOut, "description": "bad input; the message names the field"},
    503: {"model": ErrorOut, "description": "no release loaded, or below the consensus quorum"},
}


@router.post("/signal", response_model=SignalOut, responses=ERRORS, openapi_extra=BODY)
async def post_signal(request: Request, release: ReleaseQuery = None) -> Response:
    """BUY / SELL / HOLD for the last candle, with every member's forecast and vote."""
    return await answer_candles(request, release, answer_signal)


async def answer_signal(
    request: Request,
    service: ServiceState,
    engine: Engine,
    candles: Candles,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """The Signal of validated candles, counted and remembered (/v1/signal and the stream);
    ``digest``: their window digest when known."""
    return await service.signals.signal(engine, candles, digest)


@router.post("/forecast", response_model=ForecastOut, responses=ERRORS, openapi_extra=BODY)
async def post_forecast(request: Request, release: ReleaseQuery = None) -> Response:
    """Every member's 12-step forecast and the weighted forecast, without a decision."""
    return await answer_candles(request, release, answer_forecast)


async def answer_forecast(
    request: Request,
    service: ServiceState,
    engine: Engine,
    candles: Candles,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """The forecasts of validated candles; ``digest``: their window digest."""
    return await service.signals.forecast(engine, candles, digest)

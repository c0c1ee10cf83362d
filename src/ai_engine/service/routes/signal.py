"""POST /v1/signal and /v1/forecast: candles in, the ensemble's answer for the last candle out.

Routes return plain dicts; FastAPI validates them against ``response_model`` and serialises them
in pydantic's core, so the OpenAPI schema is the one every answer passes. A plain body (integer
timestamps, numbers) takes the fast path first (fastpath.py: orjson and numpy, one orjson pass
out); both paths answer through the same functions below.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ai_engine.data import Candles
from ai_engine.engine import Engine
from ai_engine.service.deps import ReleaseQuery, Service, ServiceState
from ai_engine.service.fastpath import FastRoute, candles_handler, fast_path
from ai_engine.service.inference import columns_of, validated_candles
from ai_engine.service.routing import routed_engine
from ai_engine.service.schemas import CandlesIn, ErrorOut, ForecastOut, SignalOut

router = APIRouter(prefix="/v1", tags=["signal"], route_class=FastRoute)
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


@router.post("/signal", response_model=SignalOut, responses=ERRORS)
async def post_signal(
    body: CandlesIn, request: Request, service: Service, release: ReleaseQuery = None
) -> dict[str, Any]:
    """BUY / SELL / HOLD for the last candle, with every member's forecast and vote."""
    engine = await routed_engine(request, service, release, body.symbol, body.timeframe)
    candles = validated_candles(
        *columns_of(body), body.symbol, body.timeframe, engine, service.settings.max_candles
    )
    return await answer_signal(request, service, engine, candles)


async def answer_signal(
    request: Request,
    service: ServiceState,
    engine: Engine,
    candles: Candles,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """The Signal of validated candles, counted and remembered (both paths, and the stream);
    ``digest``: their window digest when known."""
    return await service.signals.signal(engine, candles, digest)


@router.post("/forecast", response_model=ForecastOut, responses=ERRORS)
async def post_forecast(
    body: CandlesIn, request: Request, service: Service, release: ReleaseQuery = None
) -> dict[str, Any]:
    """Every member's 12-step forecast and the weighted forecast, without a decision."""
    engine = await routed_engine(request, service, release, body.symbol, body.timeframe)
    candles = validated_candles(
        *columns_of(body), body.symbol, body.timeframe, engine, service.settings.max_candles
    )
    return await answer_forecast(request, service, engine, candles)


async def answer_forecast(
    request: Request,
    service: ServiceState,
    engine: Engine,
    candles: Candles,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """The forecasts of validated candles (both paths); ``digest``: their window digest."""
    return await service.signals.forecast(engine, candles, digest)


fast_path(post_signal, candles_handler(answer_signal))
fast_path(post_forecast, candles_handler(answer_forecast))

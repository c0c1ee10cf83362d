"""POST /v1/risk/proposal: a signal (made here from candles, or given) and the account in,
a target position with its exits and reason codes out. Needs a key: a trader key proposes for
its own owner (the default; another owner is 403), the admin key for any (default engine)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ai_engine.safety import ProposalInput
from ai_engine.safety.keys import DEFAULT_OWNER
from ai_engine.service.candle_guard import GuardedRoute
from ai_engine.service.deps import JsonOnly, Key, KeyCaller, ReleaseQuery, Service
from ai_engine.service.inference import columns_of, validated_candles
from ai_engine.service.routes.account import WRITE
from ai_engine.service.routes.signal import ERRORS
from ai_engine.service.routing import routed_engine
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import ProposalIn, ProposalOut
from ai_engine.service.schemas import CandlesIn
from ai_engine.service.trusted_signal import trusted_signal

router = APIRouter(
    prefix="/v1/risk", tags=["safety"], route_class=GuardedRoute, dependencies=[Key, JsonOnly]
)


@router.post("/proposal", response_model=ProposalOut, responses={**ERRORS, **WRITE})
async def post_proposal(
    body: ProposalIn,
    request: Request,
    service: Service,
    safety: Safety,
    caller: KeyCaller,
    release: ReleaseQuery = None,
) -> dict[str, Any]:
    """Size the signal (volatility targeting), apply the limits and the ESS, audit it."""
    owner = caller.owner(body.owner, DEFAULT_OWNER) or DEFAULT_OWNER
    price, mark = body.price, None
    if body.signal is not None:  # trusted only as the release answering the symbol made it
        engine = await routed_engine(request, service, release, body.symbol, body.timeframe)
        raw = (await request.json()).get("signal")
        signal = trusted_signal(raw, body.signal.model_dump(), engine, body.symbol, body.timeframe)
    else:
        engine = await routed_engine(request, service, release, body.symbol, body.timeframe)
        candles_in = CandlesIn(
            symbol=body.symbol, timeframe=body.timeframe, candles=body.candles, columns=body.columns
        )
        candles = validated_candles(
            *columns_of(candles_in),
            body.symbol,
            body.timeframe,
            engine,
            service.settings.max_candles,
        )
        signal = await service.signals.signal(engine, candles)
        mark = float(candles.close[-1])  # validated here: the one price that marks positions
        price = price if price is not None else mark
    request_ = ProposalInput(
        body.symbol, body.timeframe, body.equity, body.position, price, owner, mark
    )
    proposal = await run_in_threadpool(safety.desk.propose, request_, signal)
    safety.metrics.proposals.labels(proposal["status"]).inc()
    for code in proposal["reasons"]:
        safety.metrics.adjustments.labels(code).inc()
    return proposal

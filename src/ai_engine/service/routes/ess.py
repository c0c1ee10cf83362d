"""GET /v1/ess (state, since, why, by whom), POST /v1/ess/trip and /v1/ess/reset (admin).

The actor stored with a trip or reset is the key's identity (``admin``); a body's ``actor`` is
ignored. Trip and reset take application/json only (415)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ai_engine.safety.keys import ADMIN_IDENTITY
from ai_engine.service.deps import Admin, JsonOnly
from ai_engine.service.routes.account import ERRORS, QUERY_ERRORS
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import EssOut, EssResetIn, EssTripIn
from ai_engine.service.schemas import ErrorOut

router = APIRouter(prefix="/v1/ess", tags=["safety"])
ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "missing or wrong admin token"},
    403: {"model": ErrorOut, "description": "admin endpoints disabled (no token configured)"},
    415: {"model": ErrorOut, "description": "a Content-Type other than application/json"},
}


def ess_json(safety: Any, limit: int) -> dict[str, Any]:
    """The stored ESS and its newest ``limit`` transitions (read from the store now)."""
    status = safety.desk.ess_status().to_json()
    return {**status, "transitions": [t.to_json() for t in safety.desk.ess_history(limit)]}


@router.get("", response_model=EssOut, responses=QUERY_ERRORS)
async def get_ess(
    safety: Safety, transitions: Annotated[int, Query(ge=0, le=1000)] = 10
) -> dict[str, Any]:
    """The emergency stop as stored now, with its newest transitions."""
    return await run_in_threadpool(ess_json, safety, transitions)


@router.post("/trip", response_model=EssOut, responses=ADMIN_ERRORS, dependencies=[Admin, JsonOnly])
async def trip(body: EssTripIn, safety: Safety) -> dict[str, Any]:
    """Trip to HALTED (default) or REDUCING; it stays until an explicit reset."""
    await run_in_threadpool(safety.desk.trip, body.reason, ADMIN_IDENTITY, body.state)
    return await run_in_threadpool(ess_json, safety, 10)


@router.post(
    "/reset", response_model=EssOut, responses=ADMIN_ERRORS, dependencies=[Admin, JsonOnly]
)
async def reset(body: EssResetIn, safety: Safety) -> dict[str, Any]:
    """Back to ACTIVE (logged); the drawdown high-water mark and trigger windows restart."""
    await run_in_threadpool(safety.desk.reset, body.reason, ADMIN_IDENTITY)
    return await run_in_threadpool(ess_json, safety, 10)

"""POST /v1/fills (the bot reports a fill) and GET /v1/fills (the newest fills)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ai_engine.safety import FillInput
from ai_engine.service.routes.account import ERRORS, QUERY_ERRORS
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import FillIn, FillOut, FillsOut

router = APIRouter(prefix="/v1", tags=["safety"])


@router.post("/fills", response_model=FillOut, responses=ERRORS)
async def post_fill(body: FillIn, safety: Safety) -> dict[str, Any]:
    """Book a fill on its position; realised P&L moves the equity and may trip the ESS."""
    fill = FillInput(**body.model_dump())
    return await run_in_threadpool(safety.desk.report_fill, fill)


@router.get("/fills", response_model=FillsOut, responses=QUERY_ERRORS)
async def get_fills(
    safety: Safety, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    """The newest fills, newest first."""
    return {"fills": await run_in_threadpool(safety.desk.fills, limit)}

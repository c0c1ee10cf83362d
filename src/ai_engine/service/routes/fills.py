"""POST /v1/fills (the bot reports a fill) and GET /v1/fills (the newest fills).

Both need a key; a trader key books for its own owner only (403 for another)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ai_engine.safety import FillInput
from ai_engine.service.deps import JsonOnly, Key, KeyCaller
from ai_engine.service.routes.account import ERRORS, KEYED, QUERY_ERRORS, WRITE
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import FillIn, FillOut, FillsOut

router = APIRouter(prefix="/v1", tags=["safety"], dependencies=[Key, JsonOnly])


@router.post("/fills", response_model=FillOut, responses={**ERRORS, **WRITE})
async def post_fill(body: FillIn, safety: Safety, caller: KeyCaller) -> dict[str, Any]:
    """Book a fill on its position; realised P&L moves the equity and may trip the ESS."""
    fill = FillInput(**{**body.model_dump(), "owner": caller.owner(body.owner)})
    return await run_in_threadpool(safety.desk.report_fill, fill)


@router.get("/fills", response_model=FillsOut, responses={**QUERY_ERRORS, **KEYED})
async def get_fills(
    safety: Safety, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    """The newest fills, newest first."""
    return {"fills": await run_in_threadpool(safety.desk.fills, limit)}

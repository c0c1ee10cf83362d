"""POST /v1/account (the bot reports its equity) and GET /v1/account (curve and positions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import AccountIn, AccountOut
from ai_engine.service.schemas import ErrorOut

router = APIRouter(prefix="/v1", tags=["safety"])
STORE_ERRORS: dict[int | str, dict[str, object]] = {
    503: {"model": ErrorOut, "description": "the state store is unavailable"},
}
"""Routes without input: only the state store can fail them."""
QUERY_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorOut, "description": "bad input; the message names the field"},
    **STORE_ERRORS,
}
"""Routes with query parameters."""
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the body cannot be read"},
    **QUERY_ERRORS,
}
"""Routes with a JSON body."""


@router.post("/account", response_model=AccountOut, responses=ERRORS)
async def post_account(body: AccountIn, safety: Safety) -> dict[str, Any]:
    """Append the equity to the curve; a drawdown past ess.max_drawdown trips the ESS."""
    return await run_in_threadpool(safety.desk.report_account, body.equity)


@router.get("/account", response_model=AccountOut, responses=STORE_ERRORS)
async def get_account(safety: Safety) -> dict[str, Any]:
    """The latest equity snapshot (with high-water mark and drawdown) and the open positions."""
    return await run_in_threadpool(safety.desk.account)

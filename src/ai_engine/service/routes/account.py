"""POST /v1/account (the bot reports its equity) and GET /v1/account (curve and positions).

Both need a key (a trader key or the admin token); the POST takes application/json only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ai_engine.service.deps import JsonOnly, Key
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import AccountIn, AccountOut
from ai_engine.service.schemas import ErrorOut

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
KEYED: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "missing or unknown key (a trader key or the admin)"},
}
"""Routes that need a key."""
WRITE: dict[int | str, dict[str, object]] = {
    **KEYED,
    403: {"model": ErrorOut, "description": "the request names another owner than the key's"},
    415: {"model": ErrorOut, "description": "a Content-Type other than application/json"},
}
"""Routes that change state: a key, the key's owner, application/json only."""
router = APIRouter(prefix="/v1", tags=["safety"], dependencies=[Key, JsonOnly])


@router.post("/account", response_model=AccountOut, responses={**ERRORS, **WRITE})
async def post_account(body: AccountIn, safety: Safety) -> dict[str, Any]:
    """Append the equity to the curve; a drawdown past ess.max_drawdown trips the ESS."""
    return await run_in_threadpool(safety.desk.report_account, body.equity)


@router.get("/account", response_model=AccountOut, responses={**STORE_ERRORS, **KEYED})
async def get_account(safety: Safety) -> dict[str, Any]:
    """The latest equity snapshot (with high-water mark and drawdown) and the open positions."""
    return await run_in_threadpool(safety.desk.account)

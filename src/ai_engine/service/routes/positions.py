"""Positions by owner: GET /v1/positions, POST /v1/positions (the bot's report),
POST /v1/positions/{id}/claim (admin), GET /v1/exits?owner=...

All need a key; a trader key reports and reads exits for its own owner only (403)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from ai_engine.safety import ledger
from ai_engine.safety.ess import iso
from ai_engine.safety.keys import OWNER
from ai_engine.safety.ownership import ReportedPosition
from ai_engine.service.deps import Admin, JsonOnly, Key, KeyCaller
from ai_engine.service.position_schemas import (
    ClaimIn,
    ExitsOut,
    PositionReportIn,
    PositionReportOut,
    PositionsOut,
)
from ai_engine.service.routes.account import ERRORS, KEYED, QUERY_ERRORS, STORE_ERRORS, WRITE
from ai_engine.service.routes.ess import ADMIN_ERRORS
from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import PositionOut
from ai_engine.service.schemas import ErrorOut

router = APIRouter(prefix="/v1", tags=["safety"], dependencies=[Key, JsonOnly])
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "the position already has another owner"},
}
OwnerQuery = Annotated[str, Query(pattern=f"^{OWNER.pattern}$", description="the positions' owner")]


@router.get("/positions", response_model=PositionsOut, responses={**STORE_ERRORS, **KEYED})
async def get_positions(safety: Safety) -> dict[str, Any]:
    """Open positions by owner, EXTERNAL ones apart, the last report and the start's check."""
    return await run_in_threadpool(safety.book.positions)


@router.post(
    "/positions", response_model=PositionReportOut, responses={**ERRORS, **WRITE, **CONFLICT}
)
async def report_positions(
    body: PositionReportIn, safety: Safety, caller: KeyCaller
) -> dict[str, Any]:
    """The bot's open positions: the store follows them; unknown ones open as EXTERNAL."""
    # a trader key reports its own owner's positions only: the items are that owner's, and the
    # report settles no other owner's position (the admin key reports the whole book)
    for position in body.positions:
        caller.owner(position.owner)  # naming another owner: 403
    report = [ReportedPosition(**p.model_dump()) for p in body.positions]
    scope = None if caller.admin else caller.identity
    found = await run_in_threadpool(safety.book.report, report, scope)
    return {**await run_in_threadpool(safety.book.positions), "differences": found}


@router.post(
    "/positions/{position_id}/claim",
    response_model=PositionOut,
    dependencies=[Admin],
    responses={
        **ADMIN_ERRORS,
        **CONFLICT,
        404: {"model": ErrorOut, "description": "no such open position"},
    },
)
async def claim_position(
    body: ClaimIn,
    safety: Safety,
    position_id: Annotated[str, Path(min_length=1, max_length=32)],
) -> dict[str, Any]:
    """Hand an EXTERNAL position to an owner (admin); one owned by another owner: 409."""
    row = await run_in_threadpool(safety.book.claim, position_id, body.owner)
    account = await run_in_threadpool(safety.desk.account)
    equity = account["snapshot"]["equity"] if account["snapshot"] else None
    return ledger.position_json(row, equity)


@router.get("/exits", response_model=ExitsOut, responses={**QUERY_ERRORS, **KEYED, 403: WRITE[403]})
async def get_exits(owner: OwnerQuery, safety: Safety, caller: KeyCaller) -> dict[str, Any]:
    """Exits due now for ``owner``'s positions: past the stop level or the holding time."""
    caller.owner(owner)  # a trader key reads its own owner's exits only
    exits = await run_in_threadpool(safety.book.exits, owner)
    return {"owner": owner, "at": iso(safety.book.clock()), "exits": exits}

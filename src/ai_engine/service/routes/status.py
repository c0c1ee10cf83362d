"""GET /v1/status: the ESS, data freshness per symbol and the served release's edge verdict."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ai_engine.service.routes.account import STORE_ERRORS
from ai_engine.service.routes.ess import ess_json
from ai_engine.service.safety import Safety, SafetyService
from ai_engine.service.safety_schemas import StatusOut

router = APIRouter(prefix="/v1", tags=["safety"])


def status_json(safety: SafetyService) -> dict[str, Any]:
    """Everything that decides whether anything trades, and the reasons when nothing does."""
    ess = ess_json(safety, 5)
    freshness = safety.desk.freshness()
    ready, reason = safety.holder.readiness()
    engine = safety.holder.engine
    edge = engine.release.evaluation.get("edge") if engine is not None else None
    why = []
    if ess["state"] != "ACTIVE":
        why.append(f"ESS {ess['state']} since {ess['since']} ({ess['trigger']}): {ess['reason']}")
    if not ready:
        why.append(reason)
    if engine is not None and not (edge or {}).get("enabled", False):
        why.append(f"release {engine.release.id} has no enabled edge verdict: sizes are 0")
    why += [
        f"{f['symbol']}: no fresh candles for {f['age_s']:.0f} s" for f in freshness if f["stale"]
    ]
    breaches = safety.desk.breaches()
    why += [f"LIMIT_BREACHED: {b}" for b in breaches]
    return {
        "trading": not why,
        "why": why,
        "ess": ess,
        "release": {
            "release": engine.release.id if engine is not None else None,
            "ready": ready,
            "reason": reason,
            "edge": edge,
        },
        "freshness": freshness,
        "breaches": breaches,
        "reservations": safety.desk.reservations(),
    }


@router.get("/status", response_model=StatusOut, responses=STORE_ERRORS)
async def get_status(safety: Safety) -> dict[str, Any]:
    """Why something trades or not, in one call (200 whatever the answer)."""
    return await run_in_threadpool(status_json, safety)

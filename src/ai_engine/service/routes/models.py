"""GET /v1/models (what is served and why), POST /v1/models/reload and /promote (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ai_engine.engine import Engine
from ai_engine.features import CURRENT_SPEC
from ai_engine.service.deps import Admin, JsonOnly, Service
from ai_engine.service.routing import routing_coverage
from ai_engine.service.schemas import ErrorOut, ModelsOut, PromoteIn, PromoteOut, ReloadOut

router = APIRouter(prefix="/v1/models", tags=["models"])
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body cannot be read"},
    422: {"model": ErrorOut, "description": "bad input; the message names the field"},
    401: {"model": ErrorOut, "description": "missing or wrong Bearer token"},
    403: {"model": ErrorOut, "description": "admin endpoints disabled (no AI_ENGINE_ADMIN_TOKEN)"},
}


@router.get("", response_model=ModelsOut)
async def models(service: Service) -> dict[str, Any]:
    """The served release and its members' health, or why nothing is served; the last reload."""
    holder = service.holder
    engine = holder.engine
    last = holder.last_reload
    return {
        "reference": holder.reference,
        "registry": holder.root.resolve().name,  # its name only: the absolute path stays private
        "served": None if engine is None else _served(engine, holder.readiness(), holder.loaded_at),
        "error": holder.error,
        "running_feature_fingerprint": CURRENT_SPEC.fingerprint(),
        "max_candles": service.settings.max_candles,
        "watching": holder.watching,
        "last_reload": None if last is None else last.to_json(),
        "coverage": routing_coverage(service),
        "shadow": None if service.shadow is None else service.shadow.status().to_json(),
    }


def _served(engine: Engine, readiness: tuple[bool, str], loaded_at: str | None) -> dict[str, Any]:
    release = engine.release
    combination = engine.combination()
    return {
        "release": release.id,
        "model_set": release.model_set,
        "symbol": release.symbol,
        "timeframe": release.timeframe,
        "created_at": release.created_at,
        "loaded_at": loaded_at,
        "feature_fingerprint": release.feature_fingerprint,
        "required_candles": engine.required_candles,
        "ensemble": engine.settings.to_json(),
        "combination": combination,
        "edge": release.evaluation.get("edge", {}),
        "symbols": release.symbols,
        "series": release.listed_series,
        "ready": readiness[0],
        "reason": readiness[1],
        "members": [
            {
                "family": m.family,
                "version": m.version,
                "healthy": m.healthy,
                "reason": m.reason,
                "weight": combination["weights"].get(m.family, 0.0),
                "inference": getattr(m.bundle.model, "inference", None) if m.bundle else None,
            }
            for m in engine.members
        ],
    }


@router.post(
    "/reload",
    response_model=ReloadOut,
    dependencies=[Admin],
    responses={
        **ADMIN_ERRORS,
        409: {
            "model": ReloadOut,
            "description": "the release failed verification; the old one keeps serving",
        },
    },
)
async def reload(service: Service, response: Response) -> dict[str, Any]:
    """Load and verify the served alias's release off the request path, then swap it in."""
    outcome = await run_in_threadpool(service.holder.reload, "api")
    response.status_code = 200 if outcome.ok else 409
    return outcome.to_json()


@router.post(
    "/promote",
    response_model=PromoteOut,
    dependencies=[Admin, JsonOnly],
    responses={
        **ADMIN_ERRORS,
        404: {"model": ErrorOut, "description": "no such release"},
        409: {
            "model": ErrorOut,
            "description": "the release failed verification; the alias is unchanged",
        },
        415: {"model": ErrorOut, "description": "a Content-Type other than application/json"},
    },
)
async def promote(body: PromoteIn, service: Service) -> dict[str, Any]:
    """Verify a release, point the alias at it, and serve it when the alias is the served one."""
    release, previous, outcome = await run_in_threadpool(
        service.holder.promote, body.release, body.alias
    )
    return {
        "alias": body.alias,
        "release": release,
        "previous": previous,
        "reload": None if outcome is None else outcome.to_json(),
    }

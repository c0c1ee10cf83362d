"""GET /health/live (the process answers) and /health/ready (the release reaches consensus)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ai_engine.service.deps import Service
from ai_engine.service.schemas import HealthOut

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=HealthOut)
async def live(service: Service) -> HealthOut:
    """200 while the process answers, whatever the state of the models; names the release
    served (null while none is loaded)."""
    return HealthOut(status="live", release=service.holder.release_id)


@router.get("/ready", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def ready(service: Service, response: Response) -> HealthOut:
    """200 only while the served release reaches consensus; 503 with the reason otherwise."""
    is_ready, reason = service.holder.readiness()
    response.status_code = 200 if is_ready else 503
    return HealthOut(
        status="ready" if is_ready else "not ready",
        release=service.holder.release_id,
        reason=reason,
    )

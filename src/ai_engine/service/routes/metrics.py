"""GET /metrics: Prometheus text exposition of the service's own registry."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ai_engine.service.deps import Service

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(service: Service) -> PlainTextResponse:
    """Latency per route, signals by action, refusals, member health, reloads."""
    service.metrics.ready.set(1 if service.holder.readiness()[0] else 0)
    return PlainTextResponse(
        generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )

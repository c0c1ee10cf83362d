"""GET /v1/limits: the configured sizing, governance limits and emergency-stop triggers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ai_engine.service.safety import Safety
from ai_engine.service.safety_schemas import LimitsOut

router = APIRouter(prefix="/v1", tags=["safety"])


@router.get("/limits", response_model=LimitsOut)
async def get_limits(safety: Safety) -> dict[str, Any]:
    """The safety configuration in force (from the safety config file, else the defaults)."""
    return safety.desk.config.to_json()

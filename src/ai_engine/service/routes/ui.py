"""GET /ui (the operator page) and GET /ui/panels (its panels, which the page refreshes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ai_engine.service.deps import Service
from ai_engine.service.safety import Safety
from ai_engine.service.ui import page, panels, recent_signals

router = APIRouter(tags=["ui"], include_in_schema=False)


@router.get("/ui", response_class=HTMLResponse)
async def ui_page(
    request: Request,
    service: Service,
    safety: Safety,
    refresh: Annotated[float, Query(ge=1, le=3600)] = 5.0,
) -> HTMLResponse:
    """The operator page; its panels refresh every ``refresh`` seconds."""
    admin = bool(service.settings.admin_token)
    html = await run_in_threadpool(page, safety, recent_signals(request), admin, refresh)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/ui/panels", response_class=HTMLResponse)
async def ui_panels(request: Request, safety: Safety) -> HTMLResponse:
    """The page's panels alone, read now."""
    html = await run_in_threadpool(panels, safety, recent_signals(request))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})

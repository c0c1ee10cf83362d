"""GET /ui (the operator page), GET /ui/panels (its panels, which the page refreshes) and
/ui/app.js, /ui/app.css (its script and style); every answer carries ``SECURITY_HEADERS``
(a Content-Security-Policy of 'self' only, X-Frame-Options DENY)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ai_engine.service.deps import Service
from ai_engine.service.safety import Safety
from ai_engine.service.ui import ASSETS, SECURITY_HEADERS, page, panels

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
    html = await run_in_threadpool(
        page,
        safety,
        service.recent.signals(),
        admin,
        refresh,
        service.recent.windows(),
        None if service.shadow is None else service.shadow.realised(),
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.get("/ui/panels", response_class=HTMLResponse)
async def ui_panels(service: Service, safety: Safety) -> HTMLResponse:
    """The page's panels alone, read now."""
    html = await run_in_threadpool(
        panels,
        safety,
        service.recent.signals(),
        service.recent.windows(),
        None if service.shadow is None else service.shadow.realised(),
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)


@router.get("/ui/app.js")
async def ui_script() -> Response:
    """The page's script (served, not inline: the CSP allows 'self' scripts only)."""
    text, media = ASSETS["app.js"]
    return Response(text, media_type=media, headers=SECURITY_HEADERS)


@router.get("/ui/app.css")
async def ui_style() -> Response:
    """The page's style sheet."""
    text, media = ASSETS["app.css"]
    return Response(text, media_type=media, headers=SECURITY_HEADERS)

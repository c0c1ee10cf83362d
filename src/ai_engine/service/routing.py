"""Which engine answers a request's series: the data plane's routing (``ai_engine.serving``),
noted on the request for the log line."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Request

from ai_engine.engine import Engine
from ai_engine.errors import AIEngineError
from ai_engine.service.deps import ServiceState


def routing_coverage(service: ServiceState) -> list[dict[str, Any]]:
    """The coverage for /v1/models; empty when the registry cannot be read (``error`` says why
    nothing is served)."""
    try:
        return [asdict(entry) for entry in service.signals.router.coverage()]
    except AIEngineError:
        return []


async def routed_engine(
    request: Request, service: ServiceState, release: str | None, symbol: str, timeframe: str
) -> Engine:
    """The series' engine (``Signals.route``); NotFound (404) when none covers it."""
    engine = await service.signals.route_async(symbol, timeframe, release)
    request.state.release = engine.release.id
    return engine

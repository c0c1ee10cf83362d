"""Which engine answers a request's symbol (multi.coverage, applied to the service).

Without ``?release=``: the served release (the holder's alias) when it covers the symbol and
timeframe (a release of one symbol made before coverage covers every symbol of its
timeframe, as before), else the first ``<alias>@<model_set>`` release that does (loaded once,
then kept in the holder's pinned cache), else 404 listing what is covered; a served release of
one symbol answers what nothing covers, so that its own timeframe check says why. With
``?release=``: that release, which must cover the symbol. Either way the answer comes from the
symbol's view: its own members, evidence and ensemble settings (in a release of several
timeframes, those of the series at the request's timeframe).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ai_engine.engine import Engine
from ai_engine.errors import AIEngineError
from ai_engine.multi.coverage import Coverage, coverage, covers, not_covered, symbol_view
from ai_engine.registry import Registry
from ai_engine.service.deps import ServiceState, engine_for

COVERAGE_TTL_S = 2.0
"""How long the alias listing is reused; an alias moved by ``promote`` is seen within it."""

_cache: dict[tuple[str, str], tuple[float, list[Coverage]]] = {}
_lock = threading.Lock()


def cached_coverage(root: Path, alias: str) -> list[Coverage]:
    """``coverage`` of the registry, re-read at most every ``COVERAGE_TTL_S`` seconds."""
    key = (str(root), alias)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < COVERAGE_TTL_S:
            return hit[1]
    entries = coverage(Registry(root), alias) if root.is_dir() else []
    with _lock:
        _cache[key] = (now, entries)
    return entries


def routing_coverage(root: Path, alias: str) -> list[dict[str, Any]]:
    """The coverage for /v1/models; empty when the registry cannot be read (``error`` says why
    nothing is served)."""
    try:
        return [asdict(entry) for entry in cached_coverage(root, alias)]
    except AIEngineError:
        return []


async def routed_engine(
    request: Request, service: ServiceState, release: str | None, symbol: str, timeframe: str
) -> Engine:
    """The symbol's view of the engine that answers it; NotFound (404) when none covers it."""
    if release is not None:
        pinned = await engine_for(request, service, release)
        return _noted(request, symbol_view(pinned, symbol, timeframe))
    holder = service.holder
    served = holder.engine
    if served is not None and covers(served.release, symbol, timeframe):
        return _noted(request, symbol_view(served, symbol, timeframe))
    entries = await run_in_threadpool(cached_coverage, holder.root, holder.reference)
    for entry in entries:
        if entry.any_symbol or not entry.covers(symbol, timeframe):
            continue
        engine = holder.cached_engine(entry.release)
        if engine is None:
            engine = await run_in_threadpool(holder.engine_for, entry.release)
        return _noted(request, symbol_view(engine, symbol, timeframe))
    if served is None and not entries:
        return holder.require()  # EngineUnavailable: nothing loaded, and why
    if served is not None and not served.release.symbols:
        return _noted(request, served)
    raise not_covered(symbol, timeframe, entries)


def _noted(request: Request, engine: Engine) -> Engine:
    request.state.release = engine.release.id
    return engine

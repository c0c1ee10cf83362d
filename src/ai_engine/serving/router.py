"""Which loaded engine answers a series (symbol, timeframe): the one routing rule of the engine.

Without a pinned release: the served release (the source's alias) when it covers the symbol
and timeframe (a release of one symbol made before coverage covers every symbol of its
timeframe), else the first ``<alias>@<model_set>`` release that does (loaded once, then kept
by the source), else ``NotFound`` listing what is covered; a served release of one symbol
answers what nothing covers, so that its own timeframe check says why. With a pinned release:
that release, which must cover the symbol. Either way the answer is the series' own view of
the release (``series_view``): its members, evidence and ensemble settings.
"""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path
from typing import Protocol

from ai_engine.coverage import (
    Coverage,
    coverage,
    covers,
    find_series,
    not_covered,
    series_of,
)
from ai_engine.engine import Engine
from ai_engine.errors import NotFound, RegistryError
from ai_engine.registry import Registry

_VIEWS: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()


class EngineSource(Protocol):
    """Where the router gets engines: the service's ``EngineHolder``, or ``LocalEngines``."""

    root: Path
    reference: str

    @property
    def engine(self) -> Engine | None: ...

    def cached_engine(self, reference: str | None) -> Engine | None: ...

    def engine_for(self, reference: str) -> Engine: ...

    def require(self) -> Engine: ...


class LocalEngines:
    """An ``EngineSource`` for one process without a service (CLI, freqtrade, the retraining
    gate): the reference loaded at once, other releases loaded when routed to, then kept."""

    def __init__(self, registry: str | Path | Registry, reference: str) -> None:
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.root = self.registry.root
        self.reference = reference
        self._engine = Engine.load(self.registry, reference)
        self._loaded: dict[str, Engine] = {self._engine.release.id: self._engine}

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def require(self) -> Engine:
        return self._engine

    def cached_engine(self, reference: str | None) -> Engine | None:
        return self._engine if reference is None else self._loaded.get(reference)

    def engine_for(self, reference: str) -> Engine:
        try:
            release_id = self.registry.resolve(reference).id
        except RegistryError as exc:
            raise NotFound(str(exc)) from exc
        if release_id not in self._loaded:
            self._loaded[release_id] = Engine.load(self.registry, release_id)
        return self._loaded[release_id]


class Router:
    """Routes (symbol, timeframe, pinned release) to the engine of that series."""

    def __init__(self, source: EngineSource, coverage_ttl_s: float = 2.0) -> None:
        self.source = source
        self.coverage_ttl_s = coverage_ttl_s
        """How long the alias listing is reused; an alias moved by ``promote`` is seen within it."""
        self._coverage: tuple[float, list[Coverage]] | None = None
        self._lock = threading.Lock()

    def coverage(self) -> list[Coverage]:
        """Every alias of the source's routing family and what it covers (cached)."""
        now = time.monotonic()
        with self._lock:
            hit = self._coverage
        if hit is not None and now - hit[0] < self.coverage_ttl_s:
            return hit[1]
        root = self.source.root
        entries = coverage(Registry(root), self.source.reference) if root.is_dir() else []
        with self._lock:
            self._coverage = (now, entries)
        return entries

    def served(self, symbol: str, timeframe: str) -> Engine | None:
        """The served release's view when it covers the series; no disk access."""
        served = self.source.engine
        if served is not None and covers(served.release, symbol, timeframe):
            return series_view(served, symbol, timeframe)
        return None

    def route(self, symbol: str, timeframe: str, release: str | None = None) -> Engine:
        """The series' engine (blocking: may read the registry and load a release)."""
        if release is not None:
            pinned = self.source.cached_engine(release) or self.source.engine_for(release)
            return series_view(pinned, symbol, timeframe)
        view = self.served(symbol, timeframe)
        if view is not None:
            return view
        served = self.source.engine
        entries = self.coverage()
        for entry in entries:
            if entry.any_symbol or not entry.covers(symbol, timeframe):
                continue
            engine = self.source.cached_engine(entry.release)
            engine = engine or self.source.engine_for(entry.release)
            return series_view(engine, symbol, timeframe)
        if served is None and not entries:
            return self.source.require()  # EngineUnavailable: nothing loaded, and why
        if served is not None and served.release.any_symbol:
            return served
        raise not_covered(symbol, timeframe, entries)


def series_view(engine: Engine, symbol: str, timeframe: str | None = None) -> Engine:
    """``engine`` seen as the one series (symbol, timeframe) of its release: that series'
    members, evidence and ensemble settings (``Release.series``); the release itself for a
    release of one symbol (``any_symbol``).

    The loaded bundles are shared, never loaded twice; views are cached per engine.
    """
    release = engine.release
    if release.any_symbol:
        return engine
    several = len(release.timeframes) > 1
    if not covers(release, symbol, timeframe if several else None):
        listed = [f"{s} {tf}" for s, tf in series_of(release)]
        at = f" at {timeframe}" if timeframe and several else ""
        raise NotFound(
            f"symbol {symbol!r}{at} is not covered by release {release.id} "
            f"({release.timeframe}); covered: {listed if several else release.symbols}"
        )
    one = find_series(release, symbol, timeframe if several else None)
    views = _VIEWS.setdefault(engine, {})
    if one.key in views:
        return views[one.key]
    update = {
        "members": [release.members[i] for i in one.members],
        "series": [one.model_copy(update={"members": list(range(len(one.members)))})],
        "evaluation": one.evaluation,
        "ensemble": one.ensemble,
        "metrics": one.metrics,
    }
    members = [engine.members[i] for i in one.members]
    view = Engine(release.model_copy(update=update), members, engine.spec)
    views[one.key] = view
    return view

"""Which release answers for a symbol, and a loaded release seen as one symbol's engine.

A release made by ``ai_engine.multi`` declares ``symbols`` and ``timeframe``; a release of one
symbol made by ``train`` declares none and answers any symbol of its timeframe, as before.
Aliases can be per model set: ``production@<model_set>`` beside the global ``production``.
A symbol is routed to the global alias's release when it covers the symbol and timeframe,
else to the first per-model-set alias (sorted by name) whose release does; an unknown symbol
is ``NotFound`` listing what is covered.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ai_engine.errors import NotFound
from ai_engine.registry import DEFAULT_ALIAS, Registry, Release, safe_name

if TYPE_CHECKING:
    from ai_engine.data import Candles
    from ai_engine.engine import Engine

_VIEWS: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Coverage:
    """One alias of the routing family, the release it names and what that release covers."""

    alias: str
    release: str
    model_set: str
    timeframe: str
    symbols: list[str]
    any_symbol: bool
    """True for a release of one symbol made before coverage: it answers any symbol."""


def set_alias(alias: str, model_set: str) -> str:
    """The per-model-set alias name, ``production@BTC-pairs-5m``."""
    return f"{alias}@{safe_name(model_set)}"


def covered(release: Release) -> list[str]:
    """The symbols a release covers (its one ``symbol`` when it declares none)."""
    return list(release.symbols) or [release.symbol]


def covers(release: Release, symbol: str, timeframe: str | None) -> bool:
    """True when the release answers ``symbol`` at ``timeframe`` (None: any timeframe)."""
    if timeframe is not None and timeframe != release.timeframe:
        return False
    return not release.symbols or symbol in release.symbols


def routing_aliases(registry: Registry, alias: str = DEFAULT_ALIAS) -> list[str]:
    """``alias`` first, then ``alias@<model_set>`` names, sorted; only those that exist."""
    names = sorted(registry.aliases()) if registry.aliases_dir.is_dir() else []
    return [n for n in names if n == alias] + [n for n in names if n.startswith(f"{alias}@")]


def coverage(registry: Registry, alias: str = DEFAULT_ALIAS) -> list[Coverage]:
    """Every alias of the routing family with what its release covers."""
    out = []
    for name in routing_aliases(registry, alias):
        release = registry.resolve(name)
        out.append(
            Coverage(
                name,
                release.id,
                release.model_set,
                release.timeframe,
                covered(release),
                not release.symbols,
            )
        )
    return out


def not_covered(symbol: str, timeframe: str | None, entries: list[Coverage]) -> NotFound:
    listed = sorted({f"{s} {e.timeframe}" for e in entries for s in e.symbols})
    at = f" at {timeframe}" if timeframe else ""
    return NotFound(
        f"symbol {symbol!r}{at} is covered by no release of "
        f"{[e.alias for e in entries] or 'any alias'}; covered: {listed or 'nothing'}"
    )


def route(
    registry: Registry, symbol: str, timeframe: str | None, alias: str = DEFAULT_ALIAS
) -> Release:
    """The release that answers ``symbol`` at ``timeframe``; NotFound listing the covered ones."""
    entries = coverage(registry, alias)
    for entry in entries:
        release = registry.release(entry.release)
        if covers(release, symbol, timeframe):
            return release
    raise not_covered(symbol, timeframe, entries)


def symbol_view(engine: Engine, symbol: str) -> Engine:
    """``engine`` as seen by one symbol: its own members, evidence and ensemble settings.

    A release that declares no symbols is returned as it is. The loaded bundles are shared,
    never loaded twice; views are cached per engine.
    """
    from ai_engine.engine import Engine

    release = engine.release
    if not release.symbols:
        return engine
    if symbol not in release.symbols:
        raise NotFound(
            f"symbol {symbol!r} is not covered by release {release.id} ({release.timeframe}); "
            f"covered: {release.symbols}"
        )
    views = _VIEWS.setdefault(engine, {})
    if symbol in views:
        return views[symbol]
    keep = [i for i, m in enumerate(release.members) if m.symbol in (None, symbol)]
    record = release.per_symbol.get(symbol, {})
    view_release = release.model_copy(
        update={
            "symbol": symbol,
            "members": [release.members[i] for i in keep],
            "evaluation": record.get("evaluation", release.evaluation),
            "ensemble": record.get("ensemble", release.ensemble),
            "metrics": record.get("metrics", release.metrics),
        }
    )
    view = Engine(view_release, [engine.members[i] for i in keep], engine.spec)
    views[symbol] = view
    return view


def symbol_engine(
    registry: str | Path | Registry, reference: str, engine: Engine, candles: Candles
) -> Engine:
    """The engine that answers for ``candles``, as the symbol's view: ``engine`` when its
    release covers their symbol and timeframe, else (``reference`` an alias) the release that
    ``route`` finds. A release of one symbol made before coverage is returned as it is when
    nothing else covers the candles (its own checks then say why they do not fit)."""
    from ai_engine.engine import Engine

    release = engine.release
    if covers(release, candles.symbol, candles.timeframe):
        return symbol_view(engine, candles.symbol)
    if reference != release.id:
        registry = registry if isinstance(registry, Registry) else Registry(registry)
        try:
            routed = route(registry, candles.symbol, candles.timeframe, reference)
        except NotFound:
            if not release.symbols:
                return engine
            raise
        return symbol_view(Engine.load(registry, routed.id), candles.symbol)
    if not release.symbols:
        return engine
    raise NotFound(
        f"symbol {candles.symbol!r} at {candles.timeframe} is not covered by release "
        f"{release.id}; covered: {release.symbols} at {release.timeframe}"
    )

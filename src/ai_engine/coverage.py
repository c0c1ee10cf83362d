"""Which release answers for a series, and a loaded release seen as one series' engine.

A release (format v2, ``release_format``) declares what it covers: its ``series``, each a
(symbol, timeframe) with its own members, evidence and ensemble settings. A release of one
symbol made by ``train`` (``any_symbol``) answers any symbol of its timeframe, as before.
Aliases can be per model set: ``production@<model_set>`` beside the global ``production``. A
series is routed to the global alias's release when it covers the symbol and timeframe, else
to the first per-model-set alias (sorted by name) whose release does; an unknown one is
``NotFound`` listing what is covered. Symbols match in freqtrade's file-name form: the pair
``ETH/BTC`` (or ``XRP/USDT:USDT``) is the symbol ``ETH_BTC`` (``XRP_USDT_USDT``) of the candle
file a release was trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ai_engine.errors import NotFound
from ai_engine.registry import DEFAULT_ALIAS, Registry, Release, safe_name
from ai_engine.release_format import SERIES_SEP, Series

_PAIR_PUNCTUATION = re.compile(r"[/ .$+:]")


def canonical_symbol(symbol: str) -> str:
    """A pair in the form of its freqtrade candle file name: ``ETH/BTC`` -> ``ETH_BTC``."""
    return _PAIR_PUNCTUATION.sub("_", symbol)


def declared_symbol(release: Release, symbol: str) -> str:
    """The release's own spelling of ``symbol`` (``ETH_BTC`` for ``ETH/BTC``), else ``symbol``."""
    wanted = canonical_symbol(symbol)
    for declared, _ in series_of(release):
        if canonical_symbol(declared) == wanted:
            return declared
    return symbol


def series_key(symbol: str, timeframe: str) -> str:
    """The key of one series in a release of several timeframes: ``ADA_BTC@5m``."""
    return f"{symbol}{SERIES_SEP}{timeframe}"


def split_key(key: str) -> tuple[str, str]:
    """``ADA_BTC@5m`` -> ``("ADA_BTC", "5m")``."""
    symbol, _, timeframe = key.rpartition(SERIES_SEP)
    return symbol, timeframe


def series_of(release: Release) -> list[tuple[str, str]]:
    """The (symbol, timeframe) pairs a release covers (an ``any_symbol`` release: its one
    series, though it answers any symbol of its timeframe)."""
    return [(s.symbol, s.timeframe) for s in release.series]


def find_series(release: Release, symbol: str, timeframe: str | None) -> Series:
    """The release's series of ``symbol`` at ``timeframe`` (None: its only timeframe for the
    symbol); NotFound when it has none, or several and no timeframe was given."""
    if release.any_symbol:
        return release.series[0]
    symbol = declared_symbol(release, symbol)
    found = [s for s in release.series if s.symbol == symbol]
    if timeframe is None and len(found) > 1:
        raise NotFound(
            f"symbol {symbol!r} is covered by release {release.id} at timeframes "
            f"{[s.timeframe for s in found]}; expected a timeframe to choose one"
        )
    for one in found:
        if timeframe in (None, one.timeframe):
            return one
    raise NotFound(f"symbol {symbol!r} at {timeframe} is not covered by release {release.id}")


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
    series: list[str]
    """Every covered series as ``SYMBOL@TF`` (also for a release of one timeframe)."""

    def covers(self, symbol: str, timeframe: str | None) -> bool:
        """True when this alias's release declares ``symbol`` at ``timeframe`` (None: any)."""
        wanted = canonical_symbol(symbol)
        return any(
            canonical_symbol(s) == wanted and timeframe in (None, tf)
            for s, tf in map(split_key, self.series)
        )


def set_alias(alias: str, model_set: str) -> str:
    """The per-model-set alias name, ``production@BTC-pairs-5m``."""
    return f"{alias}@{safe_name(model_set)}"


def covered(release: Release) -> list[str]:
    """The symbols a release covers (its one ``symbol`` when it declares none)."""
    return list(release.symbols) or [release.symbol]


def covers(release: Release, symbol: str, timeframe: str | None) -> bool:
    """True when the release answers ``symbol`` at ``timeframe`` (None: any timeframe)."""
    if release.any_symbol:
        return timeframe in (None, release.series[0].timeframe)
    wanted = canonical_symbol(symbol)
    return any(
        canonical_symbol(s) == wanted and timeframe in (None, tf) for s, tf in series_of(release)
    )


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
                release.any_symbol,
                [series_key(s, tf) for s, tf in series_of(release)],
            )
        )
    return out


def not_covered(symbol: str, timeframe: str | None, entries: list[Coverage]) -> NotFound:
    listed = sorted({f"{s} {tf}" for e in entries for s, tf in map(split_key, e.series)})
    at = f" at {timeframe}" if timeframe else ""
    return NotFound(
        f"symbol {symbol!r}{at} is covered by no release of "
        f"{[e.alias for e in entries] or 'any alias'}; covered: {listed or 'nothing'}"
    )

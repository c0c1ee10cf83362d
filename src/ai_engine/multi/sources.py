"""Candle files for a multi-symbol run: folders or lists of files, validated file by file.

Each file goes through ``load_candles`` on its own, so every error names its file. The symbol
and timeframe come from freqtrade's ``PAIR-TF.feather`` name (CSV/Parquet: the symbol is the
file stem). Two files of the same symbol and timeframe are refused, naming both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ai_engine.data import Candles, ValidationSettings, load_candles
from ai_engine.errors import DataValidationError
from ai_engine.features import CURRENT_SPEC, FeatureSpec

SUFFIXES = (".csv", ".parquet", ".feather", ".json")


@dataclass(frozen=True)
class Source:
    """One validated candle file."""

    path: Path
    candles: Candles

    @property
    def key(self) -> tuple[str, str]:
        return self.candles.symbol, self.candles.timeframe


def candle_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files named, and the candle files (by suffix, sorted) inside the folders named."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            inside = sorted(
                p
                for p in entry.iterdir()
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )
            if not inside:
                raise DataValidationError(
                    f"{entry}: expected candle files ({', '.join(SUFFIXES)}) in the folder, "
                    "found none"
                )
            found.extend(inside)
        elif entry.is_file():
            found.append(entry)
        else:
            raise DataValidationError(f"{entry}: expected a candle file or a folder, found nothing")
    return list(dict.fromkeys(found))


def min_training_bars(spec: FeatureSpec = CURRENT_SPEC) -> int:
    """Bars a file needs to give any training row (feature history + horizon + 1)."""
    return spec.min_history + spec.horizon + 1


def load_sources(
    paths: Sequence[str | Path],
    timeframe: str | None = None,
    min_bars: int | None = None,
    spec: FeatureSpec = CURRENT_SPEC,
) -> tuple[list[Source], list[str]]:
    """Validated sources and warnings (gaps; files skipped for having fewer than ``min_bars``).

    Without ``min_bars`` a file too short to train on is a DataValidationError naming it.
    """
    settings = ValidationSettings(min_rows=min_training_bars(spec) if min_bars is None else 1)
    sources: list[Source] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in candle_files(paths):
        candles = load_candles(path, timeframe=timeframe, settings=settings)
        if min_bars is not None and len(candles.frame) < max(min_bars, min_training_bars(spec)):
            warnings.append(
                f"{path}: skipped, {len(candles.frame)} bars (fewer than --min-bars "
                f"{max(min_bars, min_training_bars(spec))})"
            )
            continue
        source = Source(path, candles)
        if source.key in seen:
            raise DataValidationError(
                f"{path}: symbol {source.key[0]!r} at {source.key[1]} is also in "
                f"{seen[source.key]}; expected one file per symbol and timeframe"
            )
        seen[source.key] = path
        warnings.extend(candles.warnings)
        sources.append(source)
    if not sources:
        raise DataValidationError(f"{', '.join(map(str, paths))}: no candle file left to train on")
    return sources, warnings


def by_timeframe(sources: Sequence[Source]) -> dict[str, list[Source]]:
    """Sources grouped by timeframe (a release covers one timeframe), symbols sorted."""
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(source.candles.timeframe, []).append(source)
    return {tf: sorted(group, key=lambda s: s.candles.symbol) for tf, group in groups.items()}

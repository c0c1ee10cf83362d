"""``ai-engine retrain``: train a candidate on the newest data, gate it, promote or keep.

The candidate is trained on every bar except the last ``holdout_bars`` of each symbol, so the
window the gate scores (``gate``) is out of sample for it; the release promoted is exactly the
one evaluated. Production is whatever the alias names (a release of one symbol, or one
covering many symbols or series); only series both releases cover are compared. Data of several
timeframes make a candidate covering every series (like ``train --group-by all``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ai_engine.coverage import covers
from ai_engine.errors import ConfigError
from ai_engine.multi.gate import GateSettings, judge, record_decision
from ai_engine.multi.sources import by_timeframe, load_sources
from ai_engine.registry import Registry


def retrain(
    data: Sequence[str | Path],
    registry: str | Path,
    plan: dict[str, Any],
    alias: str = "production",
    settings: GateSettings | None = None,
    trees: str = "pooled",
    timeframe: str | None = None,
    model_set: str | None = None,
    candidate: str | None = None,
) -> dict[str, Any]:
    """Train (or take) a candidate, judge it against ``alias``'s release, promote when it
    passes; the decision (JSON) is recorded in the registry either way."""
    from ai_engine.multi.pooling import symbol_rows
    from ai_engine.multi.tasks import ALL_SET, plan_of
    from ai_engine.multi.training import train_pooled

    settings = settings or GateSettings()
    reg = Registry(registry)
    sources, _ = load_sources(data, timeframe)
    groups = by_timeframe(sources)
    tf = next(iter(groups)) if len(groups) == 1 else None
    production = reg.alias(alias).release if (reg.aliases_dir / f"{alias}.json").is_file() else None
    current = None if production is None else reg.release(production)
    if candidate is None:
        short = [s for s in sources if len(s.candles.frame) <= settings.holdout_bars]
        if short:
            raise ConfigError(
                f"{short[0].path}: {len(short[0].candles.frame)} bars, expected more than "
                f"--holdout-bars {settings.holdout_bars}"
            )
        parts = [
            symbol_rows(
                s.candles.frame.iloc[: -settings.holdout_bars],
                s.candles.symbol,
                s.path,
                timeframe=s.candles.timeframe,
            )
            for s in sources
        ]
        default = ALL_SET if tf is None else f"multi-{tf}"
        name = model_set or (current.model_set if current is not None else default)
        candidate = train_pooled(parts, reg, plan_of(plan), name, tf, trees).release.id
    chosen = reg.resolve(candidate)
    compared = [
        s.candles
        for s in sources
        if covers(chosen, s.candles.symbol, s.candles.timeframe)
        and (current is None or covers(current, s.candles.symbol, s.candles.timeframe))
    ]
    if not compared:
        raise ConfigError(
            f"no symbol of the data is covered by both candidate {chosen.id} and {alias} "
            f"({production}); nothing to compare"
        )
    decision = judge(reg, chosen.id, production, compared, settings)
    decision["alias"] = alias
    record_decision(reg, decision)
    if decision["promoted"]:
        reg.promote(chosen.id, alias)
    return decision

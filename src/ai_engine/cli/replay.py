"""``ai-engine backtest --release R``: replay a trained release over every bar of a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_engine.cli import common


def replay_command(
    data: Path | None,
    demo: bool,
    symbol: str | None,
    timeframe: str | None,
    registry: Path,
    release: str,
    fee: float,
    slippage: float,
    out_dir: Path,
) -> None:
    """Write ``signals.csv`` (date, action, reason, expected_return, position per bar) and
    ``replay.json`` (counts, HOLD reasons, the rule's trading figures) into ``out_dir``."""
    from ai_engine.backtest.replay import replay_report, replay_signals
    from ai_engine.data import demo_candles, load_candles
    from ai_engine.errors import ConfigError, DataValidationError
    from ai_engine.serving import LocalEngines, Router

    if (data is None) == (not demo):
        raise ConfigError("give exactly one of --data FILE and --demo")
    router = Router(LocalEngines(registry, release))
    candles = demo_candles() if data is None else load_candles(data, symbol, timeframe)
    engine = router.route(candles.symbol, candles.timeframe)  # the series' own view
    if (mismatch := engine.timeframe_error(candles.timeframe)) is not None:
        raise DataValidationError(mismatch)
    engine.check_consensus()
    if (overlap := in_sample(engine, candles)) is not None:
        common.err.print(f"[yellow]warning:[/] {overlap}", highlight=False, soft_wrap=True)
    replay = replay_signals(engine, candles)
    report = replay_report(replay, candles, fee, slippage)
    out_dir.mkdir(parents=True, exist_ok=True)
    replay.to_frame().to_csv(out_dir / "signals.csv", index=False)
    (out_dir / "replay.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
    common.echo(
        [
            f"release {replay.release} over {report['bars']} bars: {counts}",
            f"wrote {out_dir / 'signals.csv'} and {out_dir / 'replay.json'}",
        ]
    )


def in_sample(engine: Any, candles: Any) -> str | None:
    """A warning when the replayed bars overlap the bars the release's members were trained
    on (their manifests' ``training`` range): signals there are in sample, not a test."""
    import pandas as pd

    def utc(text: str) -> pd.Timestamp:
        stamp = pd.Timestamp(text)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp

    spans = [
        (utc(t["start"]), utc(t["end"]))
        for m in engine.members
        if m.bundle is not None
        for t in [m.bundle.manifest.training]
        if "start" in t and "end" in t
    ]
    if not spans:
        return None
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    index = candles.frame.index
    inside = int(((index >= start) & (index <= end)).sum())
    if inside == 0:
        return None
    return (
        f"{inside} of {len(index)} bars ({index[0]} .. {index[-1]}) fall inside the release's "
        f"training data ({start} .. {end}): its signals there are in sample, not a test; "
        f"replay bars after {end} for an honest one"
    )

"""``ai-engine backtest --release R``: replay a trained release over every bar of a file."""

from __future__ import annotations

import json
from pathlib import Path

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
    from ai_engine.engine import Engine
    from ai_engine.errors import ConfigError, DataValidationError
    from ai_engine.multi.coverage import symbol_engine

    if (data is None) == (not demo):
        raise ConfigError("give exactly one of --data FILE and --demo")
    engine = Engine.load(registry, release)
    candles = demo_candles() if data is None else load_candles(data, symbol, timeframe)
    engine = symbol_engine(registry, release, engine, candles)  # the series' own view
    if (mismatch := engine.timeframe_error(candles.timeframe)) is not None:
        raise DataValidationError(mismatch)
    engine.check_consensus()
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

"""``ai-engine freqtrade init``: write a freqtrade user directory that trades a release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ai_engine.cli import common
from ai_engine.cli.common import DEFAULT_REGISTRY, RegistryOption, app

freqtrade_app = typer.Typer(
    help="freqtrade integration: a user directory with the AIEngine strategy.",
    no_args_is_help=True,
)
app.add_typer(freqtrade_app, name="freqtrade")


@freqtrade_app.command("init")
def freqtrade_init(
    folder: Annotated[Path, typer.Argument(help="The freqtrade user directory to write.")],
    registry: RegistryOption = DEFAULT_REGISTRY,
    release: Annotated[str, typer.Option(help="Release id or alias.")] = "production",
    service: Annotated[
        str | None, typer.Option(help="Signal service URL for dry-run/live.")
    ] = None,
    pair: Annotated[
        list[str] | None, typer.Option("--pair", help="Pair like ETH/BTC (default: release's).")
    ] = None,
    timeframe: Annotated[
        str | None,
        typer.Option(
            help="Timeframe to trade (default: the release's; required when it has several)."
        ),
    ] = None,
    exchange: Annotated[str, typer.Option(help="Exchange name (ccxt id).")] = "binance",
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            metavar="FILE",
            help="Candle file (csv, parquet, feather, json) validated and written into the data "
            "folder as freqtrade reads it, e.g. GOOG_USD-1d.feather (repeatable).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Trader key for the service's write routes (default: AI_ENGINE_TRADER_KEYS' "
            "engine key, else the 'keys' file beside the state store)."
        ),
    ] = None,
) -> None:
    """Write config.json, strategies/ai_engine_strategy.py and markets.json into FOLDER."""
    from ai_engine.integrations.freqtrade.userdir import init_userdir

    paths = init_userdir(folder, registry, release, service, pair, exchange, data, timeframe, key)
    root = paths["config"].parent
    common.echo(
        [
            f"wrote {paths['config']}, {paths['strategy']} and {paths['markets']}",
            f"candles go into {paths['data']} (freqtrade's names: ETH_BTC-5m.feather; --data "
            f"converts a file)",
            "backtest without network:",
            f"  python -m ai_engine.integrations.freqtrade.offline {paths['markets']} "
            f"backtesting --config {paths['config']} --userdir {root}",
        ]
    )

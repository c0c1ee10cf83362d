"""``ai-engine freqtrade init``: a ready freqtrade user directory for one release.

DIR/config.json                 backtesting on local data (feather) and, with a service URL,
                                dry-run; the ``ai_engine`` section configures the strategy
DIR/strategies/ai_engine_strategy.py   class AIEngine(AIEngineStrategy)
DIR/markets.json                static markets of the pairs, for runs without network
DIR/data/<exchange>/            where freqtrade reads candles (<BASE>_<QUOTE>-<tf>.feather)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ai_engine.errors import ConfigError
from ai_engine.integrations.freqtrade.markets import split_pair, spot_markets
from ai_engine.registry import Registry

STRATEGY_NAME = "AIEngine"
STRATEGY_FILE = '''"""freqtrade strategy on the ai-engine's signals (`ai-engine freqtrade init`).

Settings live in config.json under "ai_engine"; see docs/freqtrade.md.
"""

from ai_engine.integrations.freqtrade import AIEngineStrategy


class {name}(AIEngineStrategy):
    timeframe = "{timeframe}"
'''


def freqtrade_config(
    folder: Path,
    registry: Path,
    release: str,
    pairs: list[str],
    timeframe: str,
    exchange: str,
    service: str | None,
) -> dict[str, Any]:
    """The config.json content (absolute paths, so freqtrade can run from anywhere)."""
    quote = split_pair(pairs[0])[1]
    ai: dict[str, Any] = {"registry": str(registry), "release": release}
    if service:
        ai["service"] = service
    return {
        "bot_name": "ai-engine",
        "max_open_trades": len(pairs),
        "stake_currency": quote,
        "stake_amount": "unlimited",
        "tradable_balance_ratio": 0.99,
        "dry_run": True,
        "dry_run_wallet": 1000,
        "cancel_open_orders_on_exit": False,
        "trading_mode": "spot",
        "timeframe": timeframe,
        "entry_pricing": {"price_side": "same", "use_order_book": False, "price_last_balance": 0.0},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "exchange": {
            "name": exchange,
            "key": "",
            "secret": "",
            "pair_whitelist": pairs,
            "pair_blacklist": [],
        },
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "feather",
        "user_data_dir": str(folder),
        "datadir": str(folder / "data" / exchange),
        "strategy": STRATEGY_NAME,
        "strategy_path": str(folder / "strategies"),
        "internals": {"process_throttle_secs": 5},
        "ai_engine": ai,
    }


def init_userdir(
    folder: Path,
    registry: Path,
    release: str = "production",
    service: str | None = None,
    pairs: list[str] | None = None,
    exchange: str = "binance",
    data: list[Path] | None = None,
) -> dict[str, Path]:
    """Write the user directory for ``release`` of ``registry``; the paths written.

    ``pairs`` default to the release's symbol; the timeframe is the release's. ``data``: candle
    files copied into the data folder (freqtrade's names, e.g. ETH_BTC-5m.feather).
    """
    record = Registry(registry).resolve(release)
    pairs = pairs or list(getattr(record, "symbols", None) or [record.symbol])
    for pair in pairs:
        split_pair(pair)
    folder = folder.resolve()
    if (folder / "config.json").exists():
        raise ConfigError(f"{folder / 'config.json'} exists; expected a new or empty folder")
    datadir = folder / "data" / exchange
    (folder / "strategies").mkdir(parents=True, exist_ok=True)
    datadir.mkdir(parents=True, exist_ok=True)
    config = freqtrade_config(
        folder, registry.resolve(), release, pairs, record.timeframe, exchange, service
    )
    paths = {
        "config": folder / "config.json",
        "strategy": folder / "strategies" / "ai_engine_strategy.py",
        "markets": folder / "markets.json",
        "data": datadir,
    }
    paths["config"].write_text(json.dumps(config, indent=2) + "\n")
    paths["strategy"].write_text(
        STRATEGY_FILE.format(name=STRATEGY_NAME, timeframe=record.timeframe)
    )
    paths["markets"].write_text(json.dumps(spot_markets(pairs), indent=2) + "\n")
    for source in data or []:
        if not source.is_file():
            raise ConfigError(f"{source}: expected a candle file, found nothing there")
        shutil.copy2(source, datadir / source.name)
    return paths

"""``ai-engine freqtrade init``: a ready freqtrade user directory for one release.

DIR/config.json                 backtesting on local data (feather) and, with a service URL,
                                dry-run (with the service's trader key; mode 0600); the
                                ``ai_engine`` section configures the strategy
DIR/strategies/ai_engine_strategy.py   class AIEngine(AIEngineStrategy)
DIR/markets.json                static markets of the pairs, for runs without network
DIR/data/<exchange>/            where freqtrade reads candles (<BASE>_<QUOTE>-<tf>.feather)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ai_engine.coverage import canonical_symbol, series_of
from ai_engine.errors import ConfigError
from ai_engine.integrations.freqtrade.markets import split_pair, spot_markets
from ai_engine.registry import Registry, Release

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
    key: str | None = None,
) -> dict[str, Any]:
    """The config.json content (absolute paths, so freqtrade can run from anywhere)."""
    quote = split_pair(pairs[0])[1]
    ai: dict[str, Any] = {"registry": str(registry), "release": release}
    if service:
        ai["service"] = service
    if key:
        ai["key"] = key
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
        "initial_state": "running",  # a dry run trades from the start, no /start needed
        "exchange": {
            "name": exchange,
            "key": "",
            "secret": "",
            "pair_whitelist": pairs,
            "pair_blacklist": [],
            "enable_ws": False,  # no websocket: offline it hung minutes in its reset on SIGTERM
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
    timeframe: str | None = None,
    key: str | None = None,
) -> dict[str, Path]:
    """Write the user directory for ``release`` of ``registry``; the paths written.

    ``timeframe``: the release's, or for a release of several timeframes one of its series'
    (required there). ``pairs`` default to the release's symbols at that timeframe (``ETH_BTC``
    -> ``ETH/BTC``). ``data``: candle files copied into the data folder (freqtrade's names,
    e.g. ETH_BTC-5m.feather). With a ``service``, ``key`` (default: the service's trader key,
    ``service.keys.client_key``: AI_ENGINE_TRADER_KEYS, else the key file beside the state
    store, made now if the service has not started yet) goes into the config, written 0600.
    """
    record = Registry(registry).resolve(release)
    timeframe = traded_timeframe(record, timeframe)
    pairs = pairs or [spot_pair(s) for s, tf in series_of(record) if tf == timeframe]
    for pair in pairs:
        try:
            split_pair(pair)
        except ConfigError as exc:  # a release of a stock or index: no quote currency in it
            raise ConfigError(
                f"{exc}; freqtrade trades pairs: give one with --pair, e.g. --pair {pair}/USD"
            ) from None
    folder = folder.resolve()
    if (folder / "config.json").exists():
        raise ConfigError(f"{folder / 'config.json'} exists; expected a new or empty folder")
    datadir = folder / "data" / exchange
    (folder / "strategies").mkdir(parents=True, exist_ok=True)
    datadir.mkdir(parents=True, exist_ok=True)
    if service and not key:
        from ai_engine.safety.keys import client_key

        env = os.environ
        key = client_key(registry, env.get("AI_ENGINE_STATE_URL"), env.get("AI_ENGINE_TRADER_KEYS"))
    config = freqtrade_config(
        folder, registry.resolve(), release, pairs, timeframe, exchange, service, key
    )
    paths = {
        "config": folder / "config.json",
        "strategy": folder / "strategies" / "ai_engine_strategy.py",
        "markets": folder / "markets.json",
        "data": datadir,
    }
    fd = os.open(paths["config"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds a key
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(config, indent=2) + "\n")
    paths["strategy"].write_text(STRATEGY_FILE.format(name=STRATEGY_NAME, timeframe=timeframe))
    paths["markets"].write_text(json.dumps(spot_markets(pairs), indent=2) + "\n")
    for source in data or []:
        write_candles(source, pairs, timeframe, datadir)
    return paths


def write_candles(source: Path, pairs: list[str], timeframe: str, datadir: Path) -> Path:
    """``source`` (any candle file ``load_candles`` reads) validated and written where and how
    freqtrade reads it: ``<BASE>_<QUOTE>-<tf>.feather`` with columns date (UTC), open, high,
    low, close, volume. The pair: the one whose name the file's symbol spells (``ETH_BTC``,
    ``ETH/BTC``), or the only pair."""
    from ai_engine.data import load_candles

    if not source.is_file():
        raise ConfigError(f"{source}: expected a candle file, found nothing there")
    candles = load_candles(source, timeframe=timeframe)
    spelled = canonical_symbol(candles.symbol).upper()
    named = [p for p in pairs if canonical_symbol(p).upper() == spelled]
    if not named and len(pairs) != 1:
        raise ConfigError(
            f"{source}: its symbol {candles.symbol!r} names none of the pairs {pairs}; name the "
            f"file like freqtrade (ETH_BTC-{timeframe}.feather) or give one --pair"
        )
    base, quote = split_pair((named or pairs)[0])
    target = datadir / f"{base}_{quote}-{timeframe}.feather"
    candles.frame.reset_index().to_feather(target)
    return target


def traded_timeframe(record: Release, timeframe: str | None) -> str:
    """The one timeframe a user directory trades: ``timeframe`` when the release covers it,
    the release's own when it has one; ConfigError naming the covered ones otherwise."""
    offered = sorted({tf for _, tf in series_of(record)})
    if timeframe is None and len(offered) == 1:
        return offered[0]
    if timeframe in offered:
        return timeframe
    found = "no --timeframe" if timeframe is None else f"--timeframe {timeframe!r}"
    raise ConfigError(
        f"release {record.id} covers the timeframes {offered}; expected one of them, found {found}"
    )


def spot_pair(symbol: str) -> str:
    """A release's symbol as a freqtrade spot pair: ``ETH_BTC`` (a file name's) -> ``ETH/BTC``."""
    if "/" in symbol:
        return symbol
    base, _, quote = symbol.partition("_")
    return f"{base}/{quote}" if quote else symbol

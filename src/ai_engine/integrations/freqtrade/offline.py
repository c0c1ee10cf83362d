"""Run freqtrade's own command line with the exchange's markets taken from a static file.

    python -m ai_engine.integrations.freqtrade.offline MARKETS.json backtesting --config ...

freqtrade loads the exchange's market list at start, which needs the network. This launcher
makes ccxt's market and currency fetches for every exchange class answer the file's content,
then calls ``freqtrade.main.main`` with the remaining arguments; nothing else is replaced.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ai_engine.errors import AIEngineError
from ai_engine.integrations.freqtrade.markets import read_markets


def use_static_markets(data: dict[str, Any]) -> None:
    """Make ccxt's ``fetch_markets`` / ``fetch_currencies`` (sync, async and pro, every
    exchange) return ``data["markets"]`` / ``data["currencies"]``."""
    import ccxt
    import ccxt.async_support
    import ccxt.pro

    markets, currencies = data["markets"], data.get("currencies", {})

    async def fetch_markets_async(self: Any, params: Any = None) -> list[dict[str, Any]]:
        return [dict(m) for m in markets]

    async def fetch_currencies_async(self: Any, params: Any = None) -> dict[str, Any]:
        return {k: dict(v) for k, v in currencies.items()}

    def fetch_markets(self: Any, params: Any = None) -> list[dict[str, Any]]:
        return [dict(m) for m in markets]

    def fetch_currencies(self: Any, params: Any = None) -> dict[str, Any]:
        return {k: dict(v) for k, v in currencies.items()}

    for module, asynchronous in ((ccxt, False), (ccxt.async_support, True), (ccxt.pro, True)):
        for name in module.exchanges:
            cls = getattr(module, name, None)
            if cls is None:
                continue
            cls.fetch_markets = fetch_markets_async if asynchronous else fetch_markets
            cls.fetch_currencies = fetch_currencies_async if asynchronous else fetch_currencies


def main(argv: list[str] | None = None) -> None:
    """``MARKETS.json`` then freqtrade's arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if args else 2)
    try:
        use_static_markets(read_markets(Path(args[0])))
    except AIEngineError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    from freqtrade.main import main as freqtrade_main

    freqtrade_main(args[1:])


if __name__ == "__main__":
    main()

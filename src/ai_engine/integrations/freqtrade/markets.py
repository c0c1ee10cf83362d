"""Static exchange markets for freqtrade runs without network access.

freqtrade asks the exchange for its market list at start. ``spot_markets`` describes spot pairs
in ccxt's unified market structure (generic precision and limits: 8 decimals, no maximum), which
``offline`` hands to ccxt instead of a download. Backtests do not depend on the exact exchange
limits as long as the stake clears the minimum; live trading needs the real list (no wrapper).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_engine.errors import ConfigError

STEP = 1e-8


def split_pair(pair: str) -> tuple[str, str]:
    """``"ETH/BTC"`` -> ``("ETH", "BTC")``; ConfigError for anything else."""
    base, sep, quote = pair.partition("/")
    if not sep or not base.isalnum() or not quote.isalnum():
        raise ConfigError(f"expected a spot pair like 'ETH/BTC', found {pair!r}")
    return base.upper(), quote.upper()


def spot_market(pair: str, fee: float = 0.001) -> dict[str, Any]:
    """One spot market in ccxt's unified structure."""
    base, quote = split_pair(pair)
    return {
        "id": f"{base}{quote}",
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "settleId": None,
        "active": True,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "contractSize": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "taker": fee,
        "maker": fee,
        "percentage": True,
        "tierBased": False,
        "precision": {"amount": STEP, "price": STEP},
        "limits": {
            "amount": {"min": STEP, "max": None},
            "price": {"min": STEP, "max": None},
            "cost": {"min": STEP, "max": None},
            "leverage": {"min": None, "max": None},
        },
        "created": None,
        "info": {},
    }


def spot_markets(pairs: list[str], fee: float = 0.001) -> dict[str, Any]:
    """The markets file's content: ``{"markets": [...], "currencies": {...}}``."""
    markets = [spot_market(p, fee) for p in pairs]
    codes = sorted({m["base"] for m in markets} | {m["quote"] for m in markets})
    currencies = {
        code: {"id": code, "code": code, "precision": STEP, "active": True, "info": {}}
        for code in codes
    }
    return {"markets": markets, "currencies": currencies}


def read_markets(path: Path) -> dict[str, Any]:
    """A markets file written by ``spot_markets`` (or by hand in the same shape)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: expected a JSON markets file, found {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("markets"), list):
        raise ConfigError(f"{path}: expected an object with a 'markets' list")
    return data

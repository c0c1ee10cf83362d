"""Request bodies for the examples of docs/api.md, built for the release a registry serves.

    .venv/bin/python examples/api_bodies.py --registry ./registry [--data CANDLES] [--out DIR]

Writes into DIR (default: the current folder):

- ``body.json``     /v1/signal and /v1/forecast, candles as rows
- ``columns.json``  the same candles as columns
- ``oip.json``      /v2/models/{name}/infer, one ``candles`` tensor [n, 6]
- ``promote.json``  /v1/models/promote of the release ``production`` names (re-promoting it is
                    harmless: the service answers ``swapped: false``)

The candles are the last 256 of ``--data``, or of the S&P 500 daily candles ``make demo`` trains
on. The symbol and timeframe are the release's: candles of another timeframe are refused here,
as the service would refuse them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ai_engine.data import Candles, demo_candles, load_candles
from ai_engine.registry import Registry

ROWS = 256
WIRE = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}


def bodies(candles: Candles, symbol: str, timeframe: str, release: str) -> dict[str, Any]:
    """The four request bodies, by file name."""
    frame = candles.frame.iloc[-ROWS:]
    times = [int(ts.value // 1_000_000) for ts in frame.index]  # epoch milliseconds
    columns = {"t": times, **{k: frame[c].astype(float).tolist() for k, c in WIRE.items()}}
    rows = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    flat = [float(x) for row in rows for x in row.values()]
    return {
        "body.json": {"symbol": symbol, "timeframe": timeframe, "candles": rows},
        "columns.json": {"symbol": symbol, "timeframe": timeframe, "columns": columns},
        "oip.json": {
            "id": "42",
            "parameters": {"symbol": symbol, "timeframe": timeframe},
            "inputs": [
                {"name": "candles", "shape": [len(rows), 6], "datatype": "FP64", "data": flat}
            ],
        },
        "promote.json": {"release": release, "alias": "production"},
    }


def main(argv: list[str] | None = None) -> int:
    """Write the bodies; exit 2 with one line when the candles do not fit the release."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=Path("registry"))
    parser.add_argument("--data", type=Path, help="candle file (default: the demo candles)")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    release = Registry(args.registry).resolve("production")
    candles = demo_candles() if args.data is None else load_candles(args.data)
    if candles.timeframe != release.timeframe:
        print(
            f"error: the candles are {candles.timeframe!r}, release {release.id} was trained on "
            f"{release.timeframe!r} candles: give --data with {release.timeframe!r} candles",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in bodies(candles, release.symbol, release.timeframe, release.id).items():
        (args.out / name).write_text(json.dumps(body) + "\n")
    print(f"wrote body.json, columns.json, oip.json, promote.json for release {release.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

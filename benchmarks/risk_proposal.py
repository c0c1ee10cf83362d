"""In-process risk-proposal latency beyond the signal: sizing, governance, ESS, audit row.

Usage: python benchmarks/risk_proposal.py [--state-url URL] [--calls 500] [--positions 3]

Needs no release: the signal is made once (a BUY with an enabled edge and an 80 % interval)
and every call hands it to ``SafetyDesk.propose``, which reads the ESS row and the open
positions, counts the recent changes, sizes, governs, gates and writes the audit row in one
transaction. Default store: a fresh SQLite file (WAL, synchronous=FULL) in a temp folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from ai_engine.safety import FillInput, ProposalInput, SafetyConfig, SafetyDesk, StateStore


def signal(symbol: str) -> dict[str, object]:
    horizon = 12
    return {
        "symbol": symbol,
        "timeframe": "5m",
        "as_of": "2025-01-01T00:00:00+00:00",
        "horizon": horizon,
        "action": "BUY",
        "confidence": 0.75,
        "expected_return": 0.002,
        "forecast": [0.002] * horizon,
        "forecast_lower": [-0.01] * horizon,
        "forecast_upper": [0.014] * horizon,
        "release": "benchmark",
        "reason": None,
        "edge": {"enabled": True, "horizon": horizon, "p_value": 0.01, "oos_r2": 0.02},
        "decision": {"entry_threshold": 0.001, "exit_threshold": 0.0, "min_hold_bars": 3},
        "members": [],
        "consensus": {"required": 3, "agreeing": 4, "healthy": 4},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-url", default=None)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--positions", type=int, default=3, help="other open positions")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="risk-bench-"))
    url = args.state_url or f"sqlite:///{folder / 'state.db'}"
    symbols = ["BTC/USDT", *[f"ALT{i}/USDT" for i in range(args.positions)]]
    config = SafetyConfig.from_json(
        {"limits": {"symbols": symbols, "max_changes_per_minute": 10**6}}
    )
    desk = SafetyDesk(StateStore(url), config)
    desk.start()
    desk.report_account(100_000.0)
    for other in symbols[1:]:
        desk.report_fill(FillInput(other, "BUY", 10.0, 100.0))
    made = signal("BTC/USDT")
    request = ProposalInput("BTC/USDT", "5m", 100_000.0, 0.0, 50_000.0)
    for _ in range(20):
        desk.propose(request, made)
    timings = []
    for _ in range(args.calls):
        start = time.perf_counter()
        desk.propose(request, made)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    print(
        f"store {desk.store.dialect}: {args.calls} proposals, median "
        f"{statistics.median(timings):.2f} ms, p90 {timings[int(0.9 * len(timings))]:.2f} ms, "
        f"p99 {timings[int(0.99 * len(timings))]:.2f} ms; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()

"""In-process risk-proposal latency beyond the signal: sizing, governance, ESS, audit row.

Usage: python benchmarks/risk_proposal.py [--state-url URL] [--calls 500] [--positions 3]
       [--reservations 3] [--pg]

Needs no release: the signal is made once (a BUY with an enabled edge and an 80 % interval)
and every call hands it to ``SafetyDesk.propose``, which reads the ESS row and the open
positions and the live reservations, releases the caller's previous reservation, counts the
recent changes, sizes, governs, gates and writes the audit row with its reservation in one
transaction. Default store: a fresh SQLite file (WAL, synchronous=FULL) in a temp folder;
``--pg`` starts a local PostgreSQL 15 test server (tests/safety/pg.py, fsync off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
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
    parser.add_argument(
        "--reservations", type=int, default=3, help="live reservations of other owners"
    )
    parser.add_argument("--pg", action="store_true", help="a local PostgreSQL test server")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="risk-bench-"))
    url = args.state_url or f"sqlite:///{folder / 'state.db'}"
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from safety.pg import PgServer

        server = PgServer()
        url = server.new_database()
    count = max(args.positions, args.reservations)
    symbols = ["BTC/USDT", *[f"ALT{i}/USDT" for i in range(count)]]
    config = SafetyConfig.from_json(
        {"limits": {"symbols": symbols, "max_changes_per_minute": 10**6}}
    )
    desk = SafetyDesk(StateStore(url), config)
    desk.start()
    desk.report_account(100_000.0)
    for other in symbols[1 : 1 + args.positions]:
        desk.report_fill(FillInput(other, "BUY", 10.0, 100.0))
    for other in symbols[1 : 1 + args.reservations]:
        desk.propose(ProposalInput(other, "5m", 100_000.0, owner="other"), signal(other))
    if args.reservations:
        assert len(desk.reservations()) == args.reservations, desk.reservations()
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
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.reservations} live reservations"
    )
    if args.pg:
        desk.store.dispose()
        server.close()


if __name__ == "__main__":
    main()

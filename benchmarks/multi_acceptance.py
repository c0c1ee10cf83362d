"""Every crypto file of ../shared/data/crypto with >= 1,900 bars trained in one run, one release
(`--group-by all`: every (symbol, timeframe) series in it); a signal for each series from the CLI
and from a real `ai-engine serve`; an unknown symbol, and a known symbol at a timeframe not
trained, -> 404.

    python benchmarks/multi_acceptance.py [--preset quick] [--jobs 2] [--group-by all]

Prints one line per step and a JSON summary (also appended to
benchmarks/results/multi_acceptance.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("AI_ENGINE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
OUT = HERE / "out" / "multi_acceptance"
CLI = [sys.executable, "-m", "ai_engine.cli"]


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if (done.returncode == 0) != ok:
        raise SystemExit(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def body(path: Path, symbol: str, timeframe: str, bars: int = 300) -> dict[str, Any]:
    frame = pd.read_feather(path).iloc[-bars:]
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "columns": {
            "t": [int(t.value // 1_000_000) for t in frame["date"]],
            **{k[0]: frame[k].tolist() for k in ("open", "high", "low", "close", "volume")},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--group-by", default="all", choices=["all", "timeframe", "symbol"])
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    registry = OUT / "registry"
    crypto = SHARED / "crypto"
    start = time.perf_counter()
    train = cli(
        "train", "--data", str(crypto), "--min-bars", "1900", "--preset", args.preset,
        "--jobs", args.jobs, "--group-by", args.group_by, "--promote", "--registry", str(registry),
    )  # fmt: skip
    train_s = time.perf_counter() - start
    print(train.stdout, train.stderr, sep="\n")
    listing = json.loads(cli("models", "list", "--registry", str(registry), "--json").stdout)
    covered = {
        tuple(key.rsplit("@", 1)): r["id"]
        for r in listing["releases"]
        for key in r["series"] or [f"{s}@{r['timeframe']}" for s in r["symbols"]]
    }
    files = {}
    for path in sorted(crypto.iterdir()):
        stem = path.stem.removesuffix("-futures")
        symbol, timeframe = stem.rsplit("-", 1)
        if (symbol, timeframe) in covered:
            files[(symbol, timeframe)] = path
    cli_signals = {}
    for (symbol, timeframe), path in files.items():
        out = cli("signal", "--data", str(path), "--registry", str(registry), "--json").stdout
        answer = json.loads(out)
        cli_signals[f"{symbol} {timeframe}"] = [
            answer["action"],
            answer["reason"],
            answer["release"],
        ]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (OUT / "serve.log").open("wb")
    serve = subprocess.Popen(
        [*CLI, "serve", "--registry", str(registry), "--port", str(port)], stdout=log, stderr=log
    )
    service_signals: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v1/models", timeout=10).json().get("served"):
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.5)
        for (symbol, timeframe), path in files.items():
            response = httpx.post(
                f"{url}/v1/signal", json=body(path, symbol, timeframe), timeout=120
            )
            answer = response.json()
            service_signals[f"{symbol} {timeframe}"] = [
                response.status_code, answer.get("action"), answer.get("release")
            ]  # fmt: skip
        path, (symbol, timeframe) = next(iter(files.values())), next(iter(files))
        unknown = httpx.post(f"{url}/v1/signal", json=body(path, "DOGE_BTC", timeframe), timeout=60)
        other = httpx.post(f"{url}/v1/signal", json=body(path, symbol, "4h"), timeout=60)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(60)
    summary = {
        "preset": args.preset,
        "jobs": args.jobs,
        "group_by": args.group_by,
        "train_s": round(train_s, 1),
        "releases": {
            r["id"]: [r["model_set"], r["timeframe"], r["series"] or r["symbols"]]
            for r in listing["releases"]
        },
        "aliases": listing["aliases"],
        "cli_signals": cli_signals,
        "service_signals": service_signals,
        "unknown": [unknown.status_code, unknown.json()],
        "unknown_timeframe": [other.status_code, other.json()],
        "load": os.getloadavg()[0],
    }
    print(json.dumps(summary, indent=2))
    with (HERE / "results" / "multi_acceptance.jsonl").open("a") as handle:
        handle.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()

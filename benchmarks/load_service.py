"""Load test of a real ``ai-engine serve`` process on loopback: POST /v1/signal, N clients.

Trains the demo release (S&P 500 daily candles from ``arch``) into the registry first when it
has no ``production`` alias, starts the server on a free port, sends ``--requests`` requests of
``--candles`` candles from ``--clients`` concurrent keep-alive connections (closed loop: each
client sends its next request when the answer arrives), and prints errors, latency percentiles
and throughput. ``--rate`` makes the clients send at Poisson times adding up to that offered
rate instead (open loop; latency from the scheduled send time). ``--stream`` posts to
``POST /v1/stream/{symbol}/1d`` instead: each client streams its own symbol, one full window
first (in the warm-up), then one new candle per request. ``--iso-times`` sends every ``t`` as
an ISO-8601 string (``2020-01-02T00:00:00Z``) instead of epoch milliseconds. ``--out FILE``
appends the JSON line to FILE.

``--compare REF`` measures this checkout and commit REF (a temporary ``git worktree``, run
with ``PYTHONPATH`` at its ``src``) in alternating rounds (``--rounds``, 3 each), one server
after the other on the same machine: one line per run with its ``commit`` and ``side``, then a
summary with the ratios (this / REF) of the medians, all appended to ``--out``
(benchmarks/results/load_service.jsonl). Each side serves its own copy of the registry; a REF
that cannot load the release trains its own demo release with its own code.

    python benchmarks/load_service.py --registry /tmp/demo-registry
    python benchmarks/load_service.py --registry R --bodies 4000 --rate 100 --compare c957850
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from compare_ref import Side, emit, head_side, loads_release, ref_side, run_rounds

Next = Callable[[int, int], tuple[str, bytes]]
"""(client, request index) -> (path, body)"""
RESULTS = Path(__file__).parent / "results" / "load_service.jsonl"
COMPARED = (
    "server_cpu_ms_per_request",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "req_per_s",
    "client_cpu_ms_per_request",
)
"""The report's keys whose medians ``--compare`` sets side by side (ratio this / reference)."""


def ensure_demo_release(registry: Path, preset: str, env: Mapping[str, str] | None = None) -> None:
    """Train and promote the demo release unless the registry already has production (with
    ``env``: by the code that environment imports)."""
    if (registry / "aliases" / "production.json").is_file():
        return
    print(f"training the demo release into {registry} (preset {preset}) ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ai_engine.cli",
            "demo",
            "--registry",
            str(registry),
            "--preset",
            preset,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )


def stamp(ms: int, iso: bool) -> int | str:
    """A candle's ``t``: epoch milliseconds, or the ISO-8601 UTC string of them."""
    if not iso:
        return ms
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def payloads(count: int, candles: int, iso: bool = False) -> list[bytes]:
    """``count`` request bodies: different windows of ``candles`` S&P 500 daily bars."""
    from ai_engine.data import demo_candles

    frame = demo_candles().frame
    ends = random.Random(0).sample(range(candles, len(frame) + 1), count)
    bodies = []
    for end in ends:
        window = frame.iloc[end - candles : end]
        rows = [
            {"t": stamp(ts.value // 1_000_000, iso), "o": o, "h": h, "l": low, "c": c, "v": v}
            for ts, (o, h, low, c, v) in zip(window.index, window.to_numpy(), strict=True)
        ]
        bodies.append(json.dumps({"symbol": "SP500", "timeframe": "1d", "candles": rows}).encode())
    return bodies


class StreamFeed:
    """Per-client streams of the S&P 500 values on consecutive days (no gaps): a full window of
    ``candles`` first, then one candle per request."""

    def __init__(self, candles: int, iso: bool = False) -> None:
        from ai_engine.data import demo_candles

        values = demo_candles().frame.to_numpy()
        self.values, self.window, self.iso = values, candles, iso
        self.sent: dict[int, int] = {}

    def __call__(self, client: int, index: int) -> tuple[str, bytes]:
        start = client * 97 % (len(self.values) // 2)
        sent = self.sent.get(client, 0)
        count = self.window if sent == 0 else 1
        if start + sent + count > len(self.values):
            raise SystemExit("not enough candles for this many requests per client")
        chunk = self.values[start + sent : start + sent + count].tolist()
        rows = [
            {
                "t": stamp((946_684_800 + 86_400 * (sent + k)) * 1000, self.iso),
                **dict(zip("ohlcv", row, strict=True)),
            }
            for k, row in enumerate(chunk)
        ]
        self.sent[client] = sent + count
        return f"/v1/stream/S{client}/1d", json.dumps({"candles": rows}).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("server not ready in time")


async def client(
    port: int,
    next_request: Next,
    todo: list[int],
    latencies: list[float],
    errors: list[str],
    interval_s: float,
    seed: int = 0,
) -> None:
    """One keep-alive connection sending requests until ``todo`` is empty.

    With ``interval_s`` the client sends at Poisson times (mean gap ``interval_s``) and latency
    counts from the scheduled time, so a server that falls behind is not flattered.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    gaps = random.Random(seed)
    next_at = time.perf_counter()
    try:
        while todo:
            path, body = next_request(seed, todo.pop())
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            start = time.perf_counter()
            if interval_s:
                next_at += gaps.expovariate(1.0 / interval_s)
                await asyncio.sleep(max(0.0, next_at - start))
                start = next_at
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1]) if status_line else 0
            if status != 200:
                errors.append(f"{status}: {answer[:200]!r}")
    finally:
        writer.close()


async def load(
    port: int, next_request: Next, requests: int, clients: int, rate: float | None, first: int = 0
) -> tuple[list[float], list[str], float]:
    """Send requests ``first`` .. ``first + requests - 1``; latencies, errors and wall time."""
    todo = list(range(first + requests - 1, first - 1, -1))
    latencies: list[float] = []
    errors: list[str] = []
    interval = clients / rate if rate else 0.0
    start = time.perf_counter()
    await asyncio.gather(
        *(
            client(port, next_request, todo, latencies, errors, interval, seed)
            for seed in range(clients)
        )
    )
    return latencies, errors, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used by a process and its children (Linux /proc)."""
    total, parents = 0.0, {pid}
    for stat in sorted(Path("/proc").glob("[0-9]*/stat"), key=lambda p: int(p.parent.name)):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this = int(stat.parent.name)
        if this in parents or int(fields[1]) in parents:
            parents.add(this)
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def batch_sizes(url: str) -> dict[str, float]:
    """Requests per predict call (micro-batching) and the share of windows the server had seen
    already (window cache), from the server's own metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(
            ("ai_engine_batch_size_sum", "ai_engine_batch_size_count", "ai_engine_window_cache")
        )
    }
    count = values.get("ai_engine_batch_size_count", 0.0)
    hits = values.get('ai_engine_window_cache_total{result="hit"}', 0.0)
    looked = hits + values.get('ai_engine_window_cache_total{result="miss"}', 0.0)
    return {
        "window_hit_share": round(hits / looked, 3) if looked else 0.0,
        "batches": count,
        "mean_batch": round(values["ai_engine_batch_size_sum"] / count, 2) if count else 0.0,
    }


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, help="registry (default: a temporary folder)")
    parser.add_argument("--preset", default="quick", help="training preset for the demo release")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--candles", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rate", type=float, help="total offered requests/s (open loop)")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--log", type=Path, help="server log file (default: in the temp folder)")
    parser.add_argument("--stream", action="store_true", help="POST /v1/stream, one candle each")
    parser.add_argument(
        "--iso-times", action="store_true", help="send t as ISO-8601 strings, not epoch ms"
    )
    parser.add_argument(
        "--bodies",
        type=int,
        default=256,
        help="distinct windows sent in turn, the warm-up's first (/v1/signal): with at least "
        "warmup + requests, no window is sent twice",
    )
    parser.add_argument(
        "--window-cache",
        type=int,
        help="the server's AI_ENGINE_WINDOW_CACHE (default: the server's own, 1024; 0: off)",
    )
    parser.add_argument(
        "--compare",
        metavar="REF",
        help="also measure commit REF (a git worktree), alternating with this checkout",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side with --compare")
    parser.add_argument(
        "--out", type=Path, help=f"append the JSON lines here (--compare: default {RESULTS})"
    )
    return parser.parse_args()


def measure(
    args: argparse.Namespace,
    registry: Path,
    bodies: list[bytes],
    log: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Serve ``registry`` (with ``env``: whose code), load it as ``args`` say, stop it; the
    report and the first errors."""
    next_request: Next = (
        StreamFeed(args.candles, args.iso_times)
        if args.stream
        else (lambda _, index: ("/v1/signal", bodies[index % len(bodies)]))
    )
    port = free_port()
    cache_env = (
        {} if args.window_cache is None else {"AI_ENGINE_WINDOW_CACHE": str(args.window_cache)}
    )
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ai_engine.cli",
                "serve",
                "--registry",
                str(registry),
                "--port",
                str(port),
                "--watch-interval",
                "2",
                "--workers",
                str(args.workers),
            ],
            stdout=stderr,
            stderr=stderr,
            env={**(env or os.environ), "AI_ENGINE_ADMIN_TOKEN": "", **cache_env},
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            asyncio.run(load(port, next_request, args.warmup, args.clients, None))
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            latencies, errors, wall = asyncio.run(
                load(port, next_request, args.requests, args.clients, args.rate, args.warmup)
            )
            server_cpu = cpu_seconds(server.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            batches = batch_sizes(f"http://127.0.0.1:{port}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    report: dict[str, Any] = {
        "requests": len(latencies),
        "clients": args.clients,
        "candles": args.candles,
        "offered_rate": args.rate,
        "workers": args.workers,
        "endpoint": "/v1/stream" if args.stream else "/v1/signal",
        "iso_times": args.iso_times,
        "errors": len(errors),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p90_ms": round(percentile(latencies, 90) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "req_per_s": round(len(latencies) / wall, 1),
        "server_cpu_ms_per_request": round(server_cpu / len(latencies) * 1000, 3),
        "client_cpu_ms_per_request": round(client_cpu / len(latencies) * 1000, 3),
        "mean_batch_incl_warmup": batches["mean_batch"],
        "distinct_bodies": None if args.stream else args.bodies,
        "window_cache_hit_share_incl_warmup": batches["window_hit_share"],
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    return report, errors[:5]


def compare(args: argparse.Namespace, temp: Path, bodies: list[bytes]) -> None:
    """This checkout and ``args.compare`` alternating for ``args.rounds`` rounds each. Each side
    serves its own copy of the registry (its own state database); the reference trains its own
    demo release when it cannot load the shared one (a bundle format it does not know)."""
    head = head_side()
    base = args.registry or temp / "registry"
    ensure_demo_release(base, args.preset, head.env)
    with ref_side(args.compare) as ref:
        registries, extra = {}, {}
        for side in (head, ref):
            registries[side.name] = Path(shutil.copytree(base, temp / side.name / "registry"))
            refused = loads_release(side, registries[side.name])
            if refused is not None:
                print(f"{side.name} ({side.commit}) cannot load {base}: {refused}", flush=True)
                shutil.rmtree(temp / side.name)
                ensure_demo_release(registries[side.name], args.preset, side.env)
            extra[side.name] = {"registry": "shared" if refused is None else "own"}

        def one(side: Side, round_: int) -> dict[str, Any]:
            log = temp / f"serve-{side.name}-{round_}.log"
            report, errors = measure(args, registries[side.name], bodies, log, side.env)
            for error in errors:
                print(f"error ({side.name}):", error)
            return report

        run_rounds(
            "load_service",
            (head, ref),
            args.rounds,
            one,
            COMPARED,
            args.out or RESULTS,
            {name: {**more, "argv": sys.argv[1:]} for name, more in extra.items()},
        )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as temp:
        bodies = [] if args.stream else payloads(args.bodies, args.candles, args.iso_times)
        if args.compare:
            compare(args, Path(temp), bodies)
            return
        registry = args.registry or Path(temp) / "registry"
        ensure_demo_release(registry, args.preset)
        report, errors = measure(args, registry, bodies, args.log or Path(temp) / "serve.log")
    if args.out is not None:
        emit(report, args.out)
    else:
        print(json.dumps(report))
    for error in errors:
        print("error:", error)


if __name__ == "__main__":
    main()

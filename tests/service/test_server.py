"""A real ``ai-engine serve`` on a loopback port: hot swaps under load, startup faults, logs."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from ai_engine.registry import Registry
from service.helpers import ADMIN, clone_release, production_id, signal_body
from service.server import served
from service.server import wait as _wait

PER_THREAD = 10
"""Answers every client thread must get before a swap and again after it: each thread then
provably saw the old release, then only the new one (a slow thread cannot miss the old one)."""


class ClientLoop:
    """Threads posting /v1/signal back to back, recording (status, release) in order."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url = url
        self.results: list[list[tuple[int, str | None]]] = [[] for _ in range(threads)]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]
        self._body = json.dumps(signal_body()).encode()

    def _run(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=180) as client:
            while not self._stop.is_set():
                response = client.post(
                    "/v1/signal", content=self._body, headers={"content-type": "application/json"}
                )
                release = response.json().get("release") if response.status_code == 200 else None
                self.results[index].append((response.status_code, release))

    def count(self) -> int:
        return sum(len(r) for r in self.results)

    def each_has(self, answers: int) -> bool:
        """Every thread has at least ``answers`` answers."""
        return all(len(r) >= answers for r in self.results)

    def __enter__(self) -> ClientLoop:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def releases_in_order(self, index: int) -> list[str | None]:
        """The distinct releases one thread saw, in the order it first saw them."""
        seen: list[str | None] = []
        for _, release in self.results[index]:
            if not seen or seen[-1] != release:
                seen.append(release)
        return seen


def _swap_under_load(url: str, old: str, new: str, swap: Any) -> None:
    with ClientLoop(url) as loop:
        _wait(lambda: loop.each_has(PER_THREAD))  # every thread has seen the old release
        swap()
        _wait(lambda: all(r and r[-1][1] == new for r in loop.results))
        settled = [len(r) for r in loop.results]
        _wait(  # and each keeps seeing the new one
            lambda: all(
                len(r) >= n + PER_THREAD for r, n in zip(loop.results, settled, strict=True)
            )
        )
    statuses = {status for thread in loop.results for status, _ in thread}
    assert statuses == {200}, statuses
    for index in range(len(loop.results)):
        assert loop.releases_in_order(index) == [old, new]


def test_hot_swaps_under_load_lose_no_request(registry_copy: Path, tmp_path: Path) -> None:
    first = production_id(registry_copy)
    second = clone_release(registry_copy)
    third = clone_release(registry_copy)
    broken = clone_release(registry_copy, broken=("xgboost", "lightgbm"))
    log = tmp_path / "serve.log"
    with served(registry_copy, log, "--watch-interval", "0.2") as url:
        _wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        # 1. the production alias moves (as `ai-engine models promote` does): the watcher swaps
        _swap_under_load(url, first, second, lambda: Registry(registry_copy).promote(second))
        # 2. a broken release is refused by the admin API while requests keep flowing
        with ClientLoop(url) as loop:
            refused = httpx.post(
                f"{url}/v1/models/promote", headers=ADMIN, json={"release": broken}, timeout=180
            )
            _wait(lambda: loop.each_has(PER_THREAD))
        assert refused.status_code == 409
        assert {s for t in loop.results for s, _ in t} == {200}
        assert {r for t in loop.results for _, r in t} == {second}
        # 3. promotion through the admin API swaps exactly once more
        _swap_under_load(
            url,
            second,
            third,
            lambda: httpx.post(
                f"{url}/v1/models/promote", headers=ADMIN, json={"release": third}, timeout=180
            ).raise_for_status(),
        )
        metrics = httpx.get(f"{url}/metrics").text
        seen = [line for line in metrics.splitlines() if "reloads_total{" in line]
        assert 'ai_engine_reloads_total{outcome="ok",trigger="watch"} 1.0' in metrics, seen
        assert 'ai_engine_reloads_total{outcome="ok",trigger="promote"} 1.0' in metrics, seen
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(lines) == len(log.read_text().splitlines())  # every line is a JSON object
    requests = [x for x in lines if x.get("event") == "request" and x["route"] == "/v1/signal"]
    assert requests and all(x["status"] == 200 and x["latency_ms"] > 0 for x in requests)
    assert {x["release"] for x in requests} == {first, second, third}
    reloads = [
        (x["trigger"], x["outcome"], x["release"]) for x in lines if x.get("event") == "reload"
    ]
    assert reloads == [("startup", "ok", first), ("watch", "ok", second), ("promote", "ok", third)]


def test_a_missing_registry_is_live_not_ready_then_recovers(
    registry_copy: Path, tmp_path: Path
) -> None:
    later = tmp_path / "later"
    args = ("--watch-interval", "0.2", "--wait-for-registry")  # else a one-line refusal
    with served(later, tmp_path / "serve.log", *args) as url:
        ready = httpx.get(f"{url}/health/ready")
        assert ready.status_code == 503 and "does not exist" in ready.json()["reason"]
        assert httpx.get(f"{url}/health/live").status_code == 200
        refused = httpx.post(f"{url}/v1/signal", json=signal_body())
        assert refused.status_code == 503 and "does not exist" in refused.json()["error"]
        registry_copy.rename(later)  # the registry appears: the watcher loads it
        _wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        assert httpx.post(f"{url}/v1/signal", json=signal_body()).status_code == 200

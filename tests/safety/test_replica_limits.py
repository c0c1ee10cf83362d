"""Limits across approvals on two real ``ai-engine serve`` processes sharing one state store
(SQLite file or PostgreSQL): 20 concurrent proposals for 20 symbols never add up past
``max_position`` or ``max_gross`` (c957850 approved every one of them at 0.5: 10x the cap)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from safety.service_helpers import registry_in
from safety.signals import make_signal, trusted, with_edge
from safety.test_acceptance import serving
from service.helpers import TRADER

SYMBOLS = [f"S{i:02d}" for i in range(20)]
LIMITS = f"""
[limits]
symbols = {SYMBOLS!r}
max_position = 0.5
max_gross = 1.0
max_net = 1.0
max_open_positions = 50
max_changes_per_minute = 10000
min_notional = 0.0
"""


def test_20_concurrent_proposals_on_two_replicas_never_pass_the_caps(
    state_url: str, tmp_path: Path
) -> None:
    registry = registry_in(tmp_path)
    with_edge(registry)  # the served release sizes: its evidence has an edge
    (registry.parent / "safety.toml").write_text(LIMITS)
    log = tmp_path / "serve.log"
    with serving(registry, state_url, log) as a, serving(registry, state_url, log) as b:

        def propose(i: int) -> dict[str, Any]:
            symbol = SYMBOLS[i]
            body = {
                "symbol": symbol,
                "timeframe": "5m",
                "signal": trusted(make_signal(symbol=symbol), registry),
                "equity": 10_000.0,
            }
            server = (a, b)[i % 2]
            answer = httpx.post(
                f"{server.url}/v1/risk/proposal", json=body, headers=TRADER, timeout=120
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(propose, range(20)))
        status = a.get("/v1/status")
    targets = [p["target"] for p in answers]
    assert any(t > 0 for t in targets), answers[0]  # the edge sizes something
    assert all(abs(t) <= 0.5 + 1e-9 for t in targets), targets
    assert sum(abs(t) for t in targets) <= 1.0 + 1e-9, targets
    reserved = sum(abs(r["notional"]) for r in status["reservations"]) / 10_000.0
    assert reserved <= 1.0 + 1e-9, status["reservations"]
    assert abs(reserved - sum(abs(t) for t in targets)) < 1e-6  # each approval reserved

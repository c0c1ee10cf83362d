"""Signals made by hand for the safety tests (the JSON form of ``ensemble.Signal``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ai_engine.registry import Registry, Release


def make_signal(
    action: str = "BUY",
    *,
    confidence: float = 1.0,
    lower: float = -0.01,
    upper: float = 0.012,
    edge: bool | None = True,
    horizon: int = 12,
    symbol: str = "SYN",
    timeframe: str = "5m",
    as_of: str = "2025-01-01T00:00:00+00:00",
    intervals: bool = True,
    reason: str | None = None,
) -> dict[str, Any]:
    """A signal whose interval at every step is [lower, upper]."""
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "as_of": as_of,
        "horizon": horizon,
        "action": action,
        "confidence": confidence,
        "expected_return": (lower + upper) / 2,
        "forecast": [(lower + upper) / 2] * horizon,
        "forecast_lower": [lower] * horizon if intervals else [],
        "forecast_upper": [upper] * horizon if intervals else [],
        "release": "test-release",
        "reason": reason,
        "edge": {} if edge is None else {"enabled": edge, "horizon": horizon, "p_value": 0.01},
        "decision": {},
    }


def trusted(
    signal: dict[str, Any], registry: Path, reference: str = "production"
) -> dict[str, Any]:
    """``signal`` as the release ``reference`` of ``registry`` would sign it for the contract:
    its id, its members with their bundle hashes, made now and valid for one more bar."""
    release = Registry(registry).resolve(reference)
    now = datetime.now(UTC)
    horizon = len(signal["forecast"])
    return {
        **signal,
        "release": release.id,
        "schema_version": "1",
        "generated_at": now.isoformat(),
        "valid_until": (now + timedelta(minutes=5)).isoformat(),
        "consensus": {"required": 3, "agreeing": 4, "healthy": 4},
        "members": [
            {
                "family": m.family,
                "version": m.version,
                "bundle_sha256": m.manifest_sha256,
                "forecast": list(signal["forecast"])[:horizon],
                "weight": 0.25,
                "vote": "UP",
                "healthy": True,
                "reason": None,
            }
            for m in release.members
        ],
    }


def with_edge(registry: Path, enabled: bool = True) -> str:
    """Publish and promote a copy of production whose evidence says it has (or has not) an
    edge at its decision horizon; its id."""
    store = Registry(registry)
    source = store.resolve("production")
    evaluation = copy.deepcopy(source.evaluation or {})
    horizon = int(source.ensemble.get("decision_horizon", 12))
    evaluation["edge"] = {**evaluation.get("edge", {}), "enabled": enabled, "horizon": horizon}
    if not enabled:
        evaluation["decision"] = None
    elif evaluation.get("decision") is None:
        evaluation["decision"] = {
            "entry_threshold": 0.003,
            "exit_threshold": 0.0,
            "horizon": horizon,
            "min_hold_bars": horizon,
            "short": True,
        }

    def make(_: list[Any], release_id: str) -> Release:
        update = {"id": release_id, "created_at": datetime.now(UTC).isoformat()}
        return source.model_copy(update={**update, "evaluation": evaluation})

    release_id = store.publish([], make).id
    store.promote(release_id)
    return release_id

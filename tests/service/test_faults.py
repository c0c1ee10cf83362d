"""Faults: below the quorum, a broken or missing registry, a failed reload, an alias change."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from ai_engine.registry import Registry
from service.helpers import (
    ADMIN,
    clone_release,
    production_id,
    running_client,
    settings_for,
    signal_body,
)


def test_below_quorum_refuses_to_signal(registry_copy: Path) -> None:
    broken = clone_release(registry_copy, broken=("lightgbm", "patchtst"))
    Registry(registry_copy).promote(broken)
    with running_client(settings_for(registry_copy)) as c:
        signal = c.post("/v1/signal", json=signal_body())
        assert signal.status_code == 503
        assert "ConsensusError" in signal.json()["error"] and "quorum" in signal.json()["error"]
        assert c.post("/v1/forecast", json=signal_body()).status_code == 503
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "2 of 4 models healthy" in ready.json()["reason"]
        assert c.get("/v2/health/ready").status_code == 503
        assert c.get("/health/live").status_code == 200
        served = c.get("/v1/models").json()["served"]
        reasons = {m["family"]: m["reason"] for m in served["members"]}
        assert "BundleError" in reasons["lightgbm"] and reasons["xgboost"] is None
        metrics = c.get("/metrics").text
        assert "ai_engine_consensus_refusals_total 2.0" in metrics
        assert 'ai_engine_member_healthy{family="patchtst"' in metrics
        assert "ai_engine_ready 0.0" in metrics


def test_missing_registry_is_live_but_not_ready(tmp_path: Path) -> None:
    with running_client(settings_for(tmp_path / "nowhere")) as c:
        assert c.get("/health/live").status_code == 200
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "does not exist" in ready.json()["reason"]
        signal = c.post("/v1/signal", json=signal_body())
        assert signal.status_code == 503 and "does not exist" in signal.json()["error"]
        models = c.get("/v1/models").json()
        assert models["served"] is None and "does not exist" in models["error"]
        assert (
            'ai_engine_reloads_total{outcome="failed",trigger="startup"} 1.0'
            in c.get("/metrics").text
        )


def test_broken_registry_says_why(registry_copy: Path) -> None:
    (registry_copy / "aliases" / "production.json").write_text("{not json")
    with running_client(settings_for(registry_copy)) as c:
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "not valid JSON" in ready.json()["reason"]
    shutil.rmtree(registry_copy / "bundles")
    (registry_copy / "aliases" / "production.json").unlink()
    Registry(registry_copy).promote(Registry(registry_copy).releases()[0].id)
    with running_client(settings_for(registry_copy)) as c:
        reason = c.get("/health/ready").json()["reason"]
        assert "ConsensusError" in reason and "0 of 4 models healthy" in reason


def test_a_failed_reload_keeps_the_old_release(registry_copy: Path) -> None:
    good = production_id(registry_copy)
    with running_client(settings_for(registry_copy)) as c:
        broken = clone_release(registry_copy, broken=("xgboost", "lightgbm", "nhits"))
        Registry(registry_copy).promote(broken)
        reload = c.post("/v1/models/reload", headers=ADMIN)
        assert reload.status_code == 409
        outcome = reload.json()
        assert outcome["ok"] is False and outcome["release"] == broken
        assert outcome["serving"] == good and "ConsensusError" in outcome["reason"]
        assert c.post("/v1/signal", json=signal_body()).json()["release"] == good
        assert c.get("/health/ready").status_code == 200
        models = c.get("/v1/models").json()
        assert models["served"]["release"] == good
        assert models["last_reload"]["ok"] is False and models["last_reload"]["release"] == broken
        assert (
            'ai_engine_reloads_total{outcome="failed",trigger="api"} 1.0' in c.get("/metrics").text
        )


def test_the_watcher_follows_the_alias(registry_copy: Path) -> None:
    first = production_id(registry_copy)
    with running_client(settings_for(registry_copy, watch_interval_s=0.05)) as c:
        broken = clone_release(registry_copy, broken=("xgboost", "lightgbm"))
        Registry(registry_copy).promote(broken)
        _wait(lambda: c.get("/v1/models").json()["last_reload"]["trigger"] == "watch")
        assert c.get("/v1/models").json()["served"]["release"] == first  # refused, kept
        holder = c.app.state.service.holder  # type: ignore[attr-defined]
        looked = holder.alias_checks
        _wait(lambda: holder.alias_checks >= looked + 5)  # five more looks at the alias...
        # ...and the broken target was not retried: still one failed watch reload
        assert 'outcome="failed",trigger="watch"} 1.0' in c.get("/metrics").text
        second = clone_release(registry_copy, source_ref=first)
        Registry(registry_copy).promote(second)
        _wait(lambda: c.get("/v1/models").json()["served"]["release"] == second)
        assert c.post("/v1/signal", json=signal_body()).json()["release"] == second


def _wait(condition: object, timeout_s: float = 180.0) -> None:
    """Poll until ``condition`` holds (at once on a quiet machine; the cap is for a loaded one)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout_s:.0f} s for {getattr(condition, '__name__', '')}")

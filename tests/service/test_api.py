"""The happy paths of /v1, /health and /metrics, admin auth, pinned releases, JSON logs."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.helpers import (
    ADMIN,
    SYMBOL,
    candle_rows,
    clone_release,
    production_id,
    running_client,
    settings_for,
    signal_body,
)


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True


def test_signal_has_the_design_shape(client: TestClient, trained_registry: Path) -> None:
    response = client.post("/v1/signal", json=signal_body())
    assert response.status_code == 200, response.text
    signal = response.json()
    assert set(signal) == {
        "symbol",
        "timeframe",
        "as_of",
        "horizon",
        "action",
        "confidence",
        "expected_return",
        "forecast",
        "release",
        "consensus",
        "members",
        "reason",
        "forecast_lower",
        "forecast_upper",
        "edge",
        "decision",
        "schema_version",
        "generated_at",
        "valid_until",
    }
    assert signal["symbol"] == SYMBOL and signal["release"] == production_id(trained_registry)
    assert signal["action"] in ("BUY", "SELL", "HOLD") and 0 <= signal["confidence"] <= 1
    assert len(signal["forecast"]) == 12 and signal["horizon"] == 12
    assert signal["as_of"] == "2024-01-03T01:55:00+00:00"  # the last candle
    assert [m["family"] for m in signal["members"]] == ["xgboost", "lightgbm", "nhits", "patchtst"]
    votes = [m["vote"] for m in signal["members"]]
    consensus = signal["consensus"]
    assert consensus["required"] == 3 and consensus["healthy"] == 4 and None not in votes
    camps = {"BUY": ["UP"], "SELL": ["DOWN"], "HOLD": ["UP", "DOWN"]}[signal["action"]]
    assert consensus["agreeing"] in [votes.count(v) for v in camps], (votes, consensus)
    assert signal["action"] == "HOLD" or consensus["agreeing"] >= 3
    assert _all_finite(signal) and "NaN" not in response.text


def test_rows_and_columns_give_the_same_signal(client: TestClient) -> None:
    rows = candle_rows()
    columns = {k: [r[k] for r in rows] for k in "tohlcv"}
    by_rows = client.post("/v1/signal", json=signal_body(rows)).json()
    by_columns = client.post(
        "/v1/signal", json={"symbol": SYMBOL, "timeframe": "5m", "columns": columns}
    ).json()
    iso_rows = [{**r, "t": datetime.fromtimestamp(r["t"] / 1000, UTC).isoformat()} for r in rows]
    by_iso = client.post("/v1/signal", json=signal_body(iso_rows)).json()
    made = [
        {k: v for k, v in b.items() if k != "generated_at"} for b in (by_rows, by_columns, by_iso)
    ]
    assert made[0] == made[1] == made[2]  # all but the time each was made


def test_forecast_gives_members_and_weighted_forecast(client: TestClient) -> None:
    response = client.post("/v1/forecast", json=signal_body())
    assert response.status_code == 200, response.text
    body = response.json()
    signal = client.post("/v1/signal", json=signal_body()).json()
    assert body["forecast"] == pytest.approx(signal["forecast"])
    assert [m["forecast"] for m in body["members"]] == [m["forecast"] for m in signal["members"]]
    assert [m["weight"] for m in body["members"]] == [m["weight"] for m in signal["members"]]
    assert "action" not in body


def test_models_describe_the_served_release(client: TestClient, trained_registry: Path) -> None:
    body = client.get("/v1/models").json()
    served = body["served"]
    assert served["release"] == production_id(trained_registry)
    assert served["required_candles"] == 200
    assert served["feature_fingerprint"] == body["running_feature_fingerprint"]
    assert [(m["family"], m["healthy"], m["reason"]) for m in served["members"]] == [
        (f, True, None) for f in ("xgboost", "lightgbm", "nhits", "patchtst")
    ]
    assert all(m["version"].startswith("v") for m in served["members"])
    assert body["error"] is None and body["last_reload"]["ok"] is True


def test_health(client: TestClient, trained_registry: Path) -> None:
    live = {"status": "live", "release": production_id(trained_registry), "reason": None}
    assert client.get("/health/live").json() == live
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_metrics_expose_the_required_series(client: TestClient) -> None:
    client.post("/v1/signal", json=signal_body())
    text = client.get("/metrics").text
    for needle in (
        'ai_engine_request_duration_seconds_bucket{le="0.01",method="POST",route="/v1/signal"}',
        "ai_engine_signals_total{action=",
        "ai_engine_consensus_refusals_total",
        'ai_engine_member_healthy{family="nhits"',
        'ai_engine_reloads_total{outcome="ok",trigger="startup"} 1.0',
        "ai_engine_ready 1.0",
    ):
        assert needle in text, needle


def test_admin_endpoints_need_the_token(client: TestClient) -> None:
    for path in ("/v1/models/reload", "/v1/models/promote"):
        assert client.post(path).status_code == 401
        wrong = client.post(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_admin_endpoints_are_disabled_without_a_token(trained_registry: Path) -> None:
    with running_client(settings_for(trained_registry, admin_token=None)) as c:
        for path in ("/v1/models/reload", "/v1/models/promote"):
            response = c.post(path, headers={"Authorization": "Bearer "})
            assert response.status_code == 403
            assert "AI_ENGINE_ADMIN_TOKEN" in response.json()["error"]


def test_reload_and_promote(registry_copy: Path) -> None:
    first = production_id(registry_copy)
    second = clone_release(registry_copy)
    with running_client(settings_for(registry_copy)) as c:
        reload = c.post("/v1/models/reload", headers=ADMIN)
        assert reload.status_code == 200 and reload.json()["serving"] == first
        promote = c.post("/v1/models/promote", headers=ADMIN, json={"release": second})
        assert promote.status_code == 200, promote.text
        assert promote.json()["previous"] == first and promote.json()["reload"]["ok"]
        assert production_id(registry_copy) == second
        assert c.post("/v1/signal", json=signal_body()).json()["release"] == second
        missing = c.post("/v1/models/promote", headers=ADMIN, json={"release": "r1"})
        assert missing.status_code == 404 and "r1" in missing.json()["error"]
        broken = clone_release(registry_copy, broken=("xgboost", "nhits"))
        refused = c.post("/v1/models/promote", headers=ADMIN, json={"release": broken})
        assert refused.status_code == 409 and "ConsensusError" in refused.json()["error"]
        assert production_id(registry_copy) == second  # the alias did not move
        candidate = c.post(
            "/v1/models/promote", headers=ADMIN, json={"release": first, "alias": "candidate"}
        )
        assert candidate.json()["reload"] is None  # candidate is not the served alias
        assert c.get("/v1/models").json()["served"]["release"] == second


def test_a_pinned_release_answers_without_changing_the_served_one(registry_copy: Path) -> None:
    served = production_id(registry_copy)
    other = clone_release(registry_copy)
    with running_client(settings_for(registry_copy)) as c:
        pinned = c.post(f"/v1/signal?release={other}", json=signal_body())
        assert pinned.status_code == 200 and pinned.json()["release"] == other
        assert c.post("/v1/signal", json=signal_body()).json()["release"] == served
        unknown = c.post("/v1/signal?release=r0", json=signal_body())
        assert unknown.status_code == 404 and "r0" in unknown.json()["error"]
        traversal = c.post("/v1/signal?release=../aliases/production", json=signal_body())
        assert traversal.status_code == 422


def test_one_json_log_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ai_engine.service"):
        client.post("/v1/signal", json=signal_body())
    lines = [r for r in caplog.records if getattr(r, "event", None) == "request"]
    assert len(lines) == 1
    record = lines[0]
    assert record.route == "/v1/signal" and record.status == 200  # type: ignore[attr-defined]
    assert record.release.startswith("r") and record.latency_ms > 0  # type: ignore[attr-defined]
    from ai_engine.service.observability import JsonFormatter

    line = json.loads(JsonFormatter().format(record))
    assert {"ts", "level", "msg", "route", "status", "latency_ms", "release"} <= set(line)


def test_old_candles_hold_as_stale_data_and_fresh_ones_do_not(trained_registry: Path) -> None:
    """The 2018 test candles are years old by the wall clock: with the check on (the default)
    the signal HOLDs with reason stale_data; the same candles with the check off do not."""
    with running_client(settings_for(trained_registry, stale_check=True)) as stale_client:
        stale = stale_client.post("/v1/signal", json=signal_body())
    assert stale.status_code == 200, stale.text
    assert stale.json()["action"] == "HOLD" and stale.json()["reason"] == "stale_data"
    with running_client(settings_for(trained_registry)) as replay_client:
        replay = replay_client.post("/v1/signal", json=signal_body()).json()
    assert replay["reason"] != "stale_data"
    assert replay["forecast"] == pytest.approx(stale.json()["forecast"])

"""The shadow alias: computed beside the served release, logged, scored, never answered."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ai_engine.data import make_candles
from ai_engine.errors import ConfigError
from ai_engine.registry import Registry
from ai_engine.service import ServiceSettings
from ai_engine.service.observability import LOGGER_NAME
from ai_engine.serving.outcomes import Forecast, OutcomeBook
from ai_engine.serving.shadow import ShadowRunner
from service.helpers import (
    FRAME,
    SYMBOL,
    TIMEFRAME,
    clone_release,
    production_id,
    running_client,
    settings_for,
)
from service.server import served, wait

ENDS = range(571, 601)
"""Growing windows: each request ends one bar later than the one before."""
GENERATED = re.compile(rb'"generated_at":"[^"]*"')


def window(end: int, n: int = 256) -> dict[str, Any]:
    frame = FRAME.iloc[end - n : end]
    rows = [
        {"t": int(ts.value // 1_000_000), "o": o, "h": h, "l": low, "c": c, "v": v}
        for ts, (o, h, low, c, v) in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    return {"symbol": SYMBOL, "timeframe": TIMEFRAME, "candles": rows}


def answers(client: TestClient) -> list[bytes]:
    """Every window's /v1/signal body, the wall-clock ``generated_at`` blanked."""
    out = []
    for end in ENDS:
        response = client.post("/v1/signal", json=window(end))
        assert response.status_code == 200, response.text
        out.append(GENERATED.sub(b'"generated_at":""', response.content))
    return out


def shadow_of(client: TestClient) -> ShadowRunner:
    runner = client.app.state.service.shadow  # type: ignore[attr-defined]
    assert isinstance(runner, ShadowRunner)
    assert runner.drain(60)
    return runner


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scored(metrics: dict[Any, float], release: str, role: str) -> float:
    return metrics.get(
        ("ai_engine_scored_forecasts_total", (("release", release), ("role", role))), 0.0
    )


def error_count(metrics: dict[Any, float], release: str, role: str, forecast: str) -> float:
    labels = (("forecast", forecast), ("release", release), ("role", role))
    return metrics.get(("ai_engine_realised_abs_error_count", labels), 0.0)


def test_the_shadow_changes_no_answer_and_scores_both_releases(
    registry_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = production_id(registry_copy)
    candidate = clone_release(registry_copy)
    Registry(registry_copy).promote(candidate, "candidate")
    with running_client(settings_for(registry_copy)) as client:
        plain = answers(client)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    with running_client(settings_for(registry_copy, shadow="candidate")) as client:
        runner = shadow_of(client)
        assert runner.holder.wait_loaded(60) and runner.holder.release_id == candidate
        shadowed = answers(client)
        runner = shadow_of(client)
        metrics = samples(client)
        models = client.get("/v1/models").json()
        page = client.get("/ui/panels").text
        realised = {(r["role"], r["release"]): r for r in runner.realised()}
    assert shadowed == plain  # byte for byte, but the wall clock
    horizon = int(client_horizon(plain[0]))
    expected = len(ENDS) - horizon
    assert expected > 0
    for release, role in ((served, "served"), (candidate, "shadow")):
        assert scored(metrics, release, role) == expected
        assert error_count(metrics, release, role, "model") == expected
        assert error_count(metrics, release, role, "zero") == expected
    assert metrics[("ai_engine_shadow_signals_total", (("outcome", "ok"),))] == len(ENDS)
    # the operator page shows both realised errors beside the zero forecast's
    assert set(realised) == {("served", served), ("shadow", candidate)}
    for row in realised.values():
        assert row["scored"] == expected and row["mae"] > 0 and row["zero_mae"] > 0
    assert page.count('data-testid="realised-row"') == 2 and candidate in page
    assert metrics[("ai_engine_pending_forecasts", ())] == horizon
    shadow = models["shadow"]
    assert shadow["alias"] == "candidate" and shadow["release"] == candidate
    assert shadow["error"] is None and shadow["computed"] == len(ENDS)
    assert shadow["pending"] == horizon
    lines = [r for r in caplog.records if getattr(r, "event", None) == "shadow"]
    assert len(lines) == len(ENDS)
    last: Any = lines[-1]
    assert last.served["release"] == served and last.shadow["release"] == candidate
    assert {"action", "expected_return"} <= set(last.served) & set(last.shadow)


def client_horizon(body: bytes) -> int:
    match = re.search(rb'"horizon":(\d+)', body)
    assert match is not None
    return int(match.group(1))


def test_a_missing_shadow_alias_is_reported_and_serving_goes_on(
    registry_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = production_id(registry_copy)
    with running_client(settings_for(registry_copy)) as client:
        plain = answers(client)
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    with running_client(settings_for(registry_copy, shadow="candidate")) as client:
        runner = shadow_of(client)
        assert runner.holder.wait_loaded(60)
        assert client.get("/health/ready").status_code == 200
        assert answers(client) == plain
        runner = shadow_of(client)
        shadow = client.get("/v1/models").json()["shadow"]
        metrics = samples(client)
        assert shadow["release"] is None and "candidate" in shadow["error"]
        assert shadow["skipped"] == len(ENDS) and shadow["computed"] == 0
        assert scored(metrics, served, "served") == len(ENDS) - client_horizon(plain[0])
        warnings = [r for r in caplog.records if getattr(r, "event", None) == "shadow_unavailable"]
        assert len(warnings) == 1 and "candidate" in warnings[0].getMessage()
        # the alias appears: the watcher's check loads it, and the next request is shadowed
        candidate = clone_release(registry_copy)
        Registry(registry_copy).promote(candidate, "candidate")
        outcome = runner.holder.check_alias()
        assert outcome is not None and outcome.ok and runner.holder.release_id == candidate
        assert client.post("/v1/signal", json=window(600)).status_code == 200
        shadow = shadow_of(client).status()
        assert shadow.release == candidate and shadow.error is None and shadow.computed == 1


def test_the_book_scores_the_training_target_and_stays_bounded() -> None:
    candles = make_candles(FRAME.iloc[:300], SYMBOL, TIMEFRAME)
    index = candles.frame.index.asi8
    close = candles.frame["close"].to_numpy()
    book = OutcomeBook(cap=3)
    for pos in (290, 291, 292, 293):
        forecast = Forecast("served", "r1", 5, 0.001)
        book.add(SYMBOL, TIMEFRAME, int(index[pos]), [forecast])
        book.add(SYMBOL, TIMEFRAME, int(index[pos]), [forecast])  # a repeat scores once
    assert len(book) == 3  # bar 290 evicted
    result = book.score(candles)
    assert [round(s.realised, 12) for s in result] == [
        round(float(np.log(close[p + 5] / close[p])), 12) for p in (291, 292, 293)
    ]
    assert all(s.error == abs(0.001 - s.realised) for s in result)
    assert all(s.zero_error == abs(s.realised) for s in result)
    assert len(book) == 0 and book.score(candles) == []


def test_shadow_settings_come_from_the_environment() -> None:
    settings = ServiceSettings.from_env(
        {"AI_ENGINE_SHADOW": "candidate", "AI_ENGINE_SHADOW_PENDING": "8"}
    )
    assert settings.shadow == "candidate" and settings.shadow_pending == 8
    assert ServiceSettings.from_env({}).shadow is None
    with pytest.raises(ConfigError, match="shadow pending"):
        ServiceSettings(shadow_pending=0)


def test_a_served_process_shadows_from_its_option(registry_copy: Path, tmp_path: Path) -> None:
    """``ai-engine serve --shadow``: both releases scored in /metrics, both logged."""
    candidate = clone_release(registry_copy)
    Registry(registry_copy).promote(candidate, "candidate")
    log = tmp_path / "serve.log"
    env = {"AI_ENGINE_STALE_CHECK": "0"}
    with served(registry_copy, log, "--shadow", "candidate", env_changes=env) as url:
        wait(lambda: httpx.get(f"{url}/v1/models").json()["shadow"]["release"] == candidate)
        horizon = 0
        for end in ENDS:
            response = httpx.post(f"{url}/v1/signal", json=window(end), timeout=30)
            assert response.status_code == 200, response.text
            horizon = response.json()["horizon"]
        want = f'ai_engine_scored_forecasts_total{{release="{candidate}",role="shadow"}} '
        want += f"{float(len(ENDS) - horizon)}"
        wait(lambda: want in httpx.get(f"{url}/metrics").text)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    shadow = [line for line in lines if line.get("event") == "shadow"]
    assert len(shadow) == len(ENDS) and shadow[-1]["shadow"]["release"] == candidate

"""The contract's rules without a server: the bar a body is valid for, the validator's codes,
the schema files equal to what the service's models emit, and what counts as breaking."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ai_engine.contract import (
    NAMES,
    SCHEMA_VERSION,
    breaking_changes,
    carried,
    check,
    kind_of,
    valid_until,
)
from ai_engine.contract.schemas import schema, text
from ai_engine.engine import Engine
from ai_engine.ensemble import EnsembleSettings, MemberForecast, combine
from ai_engine.errors import ConfigError
from ai_engine.registry import Release

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_valid_until_is_the_end_of_the_bar_the_signal_is_for() -> None:
    bar = timedelta(minutes=5)
    # the last candle still open: its own bar
    assert valid_until(T0, "5m", T0 + timedelta(minutes=2)) == T0 + bar
    # the last candle closed: the bar running now
    assert valid_until(T0, "5m", T0 + timedelta(minutes=7)) == T0 + 2 * bar
    # older candles: expired as soon as made
    assert valid_until(T0, "5m", T0 + timedelta(hours=1)) == T0 + 2 * bar
    assert valid_until(T0, "1h", T0 + timedelta(minutes=61)) == T0 + timedelta(hours=2)
    with pytest.raises(ConfigError, match="timeframe: expected like 5m"):
        valid_until(T0, "5x", T0)


def _signal_body() -> dict[str, Any]:
    members = [
        MemberForecast(f, "v1", np.linspace(0.001, 0.02, 12))
        for f in ("xgboost", "lightgbm", "nhits", "patchtst")
    ]
    signal = combine(
        members, EnsembleSettings(), symbol="S", timeframe="5m", as_of=T0.isoformat(), release="r1"
    )
    release = Release.model_construct(
        id="r1",
        timeframe="5m",
        members=[
            type("M", (), {"family": m.family, "manifest_sha256": m.family[0] * 64})()
            for m in members
        ],
    )
    engine = Engine.__new__(Engine)
    engine.release = release
    return engine.stamped(signal, T0 + timedelta(minutes=6)).to_json()


def test_a_stamped_signal_passes_until_its_bar_ends() -> None:
    body = _signal_body()
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["valid_until"] == (T0 + timedelta(minutes=10)).isoformat()
    assert [m["bundle_sha256"] for m in body["members"]] == ["x" * 64, "l" * 64, "n" * 64, "p" * 64]
    sig = schema("signal")
    ok = check(body, sig, production="r1", now=T0 + timedelta(minutes=9))
    assert (ok.ok, ok.code) == (True, "OK"), ok.reason
    late = check(body, sig, now=T0 + timedelta(minutes=10))
    assert (late.ok, late.code) == (False, "EXPIRED") and "passed 0 s" in late.reason
    other = check(body, sig, production="r2", now=T0 + timedelta(minutes=9))
    assert other.code == "RELEASE_MISMATCH" and "'r1'" in other.reason and "'r2'" in other.reason
    pinned = {"xgboost": "x" * 64, "lightgbm": "l" * 64, "nhits": "n" * 64, "patchtst": "0" * 64}
    bundle = check(body, sig, production="r1", bundles=pinned, now=T0 + timedelta(minutes=9))
    assert bundle.code == "RELEASE_MISMATCH" and "patchtst" in bundle.reason


@pytest.mark.parametrize("field", ["valid_until", "release", "schema_version", "action"])
def test_a_body_without_a_field_breaks_the_schema(field: str) -> None:
    body = _signal_body()
    del body[field]
    verdict = check(body, schema("signal"), now=T0)
    assert verdict.code == "SCHEMA" and f"'{field}' is a required property" in verdict.reason


def test_a_body_of_another_schema_version_breaks_the_schema() -> None:
    body = {**_signal_body(), "schema_version": "0"}
    verdict = check(body, schema("signal"), now=T0)
    assert verdict.code == "SCHEMA" and verdict.reason.startswith("schema_version:")


def test_kinds_and_what_a_proposal_carries_of_its_signal() -> None:
    body = _signal_body()
    assert kind_of(body) == "signal" and kind_of({"target": 0.1}) == "proposal"
    assert kind_of({"forecast": [], "members": []}) == "forecast"
    now = T0 + timedelta(minutes=6)
    fields = carried(body, now)
    assert fields["valid_until"] == body["valid_until"] and len(fields["members"]) == 4
    bare = carried({"timeframe": "5m", "as_of": ""}, T0 + timedelta(minutes=1))
    assert bare["valid_until"] == (T0 + timedelta(minutes=5)).isoformat() and bare["members"] == []


@pytest.mark.parametrize("name", NAMES)
def test_the_schema_files_are_what_the_service_emits(name: str) -> None:
    """docs/schemas/NAME.json equals the schema of the service's response model; on a change,
    say whether it breaks consumers (then bump SCHEMA_VERSION)."""
    path = DOCS / f"{name}.json"
    committed = json.loads(path.read_text())
    current = schema(name)
    breaking = breaking_changes(committed, current)
    assert path.read_text() == text(name), (
        f"{path} differs from the service's {name} body; breaking changes: {breaking or 'none'}. "
        "Breaking: bump ai_engine.contract.SCHEMA_VERSION. Then run "
        "`ai-engine contract schemas --write docs/schemas`."
    )
    assert committed["x-schema-version"] == SCHEMA_VERSION


def test_breaking_changes_are_told_from_additions() -> None:
    old = schema("signal")
    added = copy.deepcopy(old)
    added["properties"]["extra"] = {"type": "string"}
    assert breaking_changes(old, added) == []
    removed = copy.deepcopy(old)
    del removed["properties"]["valid_until"]
    removed["required"].remove("valid_until")
    assert breaking_changes(old, removed) == ["/valid_until: required, now missing or optional"]
    retyped = copy.deepcopy(old)
    retyped["properties"]["horizon"]["type"] = "string"
    assert breaking_changes(old, retyped) == ["/horizon: type 'integer' became 'string'"]
    bumped = copy.deepcopy(old)
    bumped["properties"]["schema_version"]["const"] = "2"
    assert breaking_changes(old, bumped) == ["/schema_version: const '1' became '2'"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (90, "90 s"),
        (900, "15 min"),
        (7200, "2 h"),
        (3 * 86400, "3 days"),
        (250214524, "7.9 years"),
    ],
)
def test_an_expired_signal_says_how_long_ago_in_words(seconds: float, shown: str) -> None:
    from ai_engine.contract import span

    assert span(seconds) == shown  # not "passed 250214524 s before" (issue 27)

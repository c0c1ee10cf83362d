"""One set of weights everywhere (issue 27): /v1/models, /v1/signal and /v1/forecast show the
combination the release actually uses at its decision horizon, labelled; without an edge that
is 0 for every member, not the seed's 0.30/0.30/0.20/0.20."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ai_engine.engine import Engine
from ai_engine.service.charts import fmt
from service.helpers import signal_body


def test_models_signal_and_forecast_show_the_combination_the_release_uses(
    client: TestClient, trained_registry: Path
) -> None:
    engine = Engine.load(trained_registry)
    assert engine.evidence is not None
    used = engine.combination()
    step = engine.settings.decision_horizon - 1
    expected = {f: float(w[step]) for f, w in engine.evidence.weights.items()}
    assert used["weights"] == pytest.approx(expected)
    assert used["method"] == engine.evidence.combination
    assert used["label"].startswith(f"{used['method']} weights at h{step + 1}")
    if not engine.evidence.enabled:
        assert set(used["weights"].values()) == {0.0} and "no edge: all 0" in used["label"]

    served = client.get("/v1/models").json()["served"]
    assert served["combination"]["weights"] == pytest.approx(expected)
    assert served["combination"]["label"] == used["label"]
    assert {m["family"]: m["weight"] for m in served["members"]} == pytest.approx(expected)
    signal = client.post("/v1/signal", json=signal_body()).json()
    assert {m["family"]: m["weight"] for m in signal["members"]} == pytest.approx(expected)
    forecast = client.post("/v1/forecast", json=signal_body()).json()
    assert {m["family"]: m["weight"] for m in forecast["members"]} == pytest.approx(expected)


def test_the_operator_page_reads_the_same_weights(
    client: TestClient, trained_registry: Path
) -> None:
    engine = Engine.load(trained_registry)
    weights, seeded = engine.combination()["weights"], engine.settings.weights
    page = client.get("/ui").text
    members = page.split('data-testid="members"')[1].split("</table>")[0]
    for family, value in weights.items():
        row = members.split(f"<td>{family}</td>")[1].split("</tr>")[0]
        assert f"<td>{fmt(value, 3)}</td>" in row, row
        if value != seeded[family]:  # not the seed's 0.30/0.20
            assert f"<td>{fmt(seeded[family], 3)}</td>" not in row, row

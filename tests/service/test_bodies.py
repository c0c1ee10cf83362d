"""Bodies as clients really send them: without a Content-Type, not JSON, epoch ms in quotes,
Triton's binary tensors; what /health/live and a reload of the served release report."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from service.helpers import ADMIN, production_id, running_client, settings_for, signal_body

BINARY = "Inference-Header-Content-Length"


def oip_body() -> dict[str, object]:
    rows = signal_body()["candles"]
    flat = [float(row[k]) for row in rows for k in ("t", "o", "h", "l", "c", "v")]
    return {
        "inputs": [{"name": "candles", "shape": [len(rows), 6], "datatype": "FP64", "data": flat}]
    }


def test_a_body_without_content_type_is_read_as_json(client: TestClient) -> None:
    content = json.dumps(signal_body()).encode()
    for headers in ({}, {"Content-Type": "application/x-www-form-urlencoded"}):  # curl -d
        answer = client.post("/v1/signal", content=content, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["action"] in ("BUY", "SELL", "HOLD")
    oip = client.post("/v2/models/ensemble/infer", content=json.dumps(oip_body()).encode())
    assert oip.status_code == 200, oip.text
    assert [o["name"] for o in oip.json()["outputs"]][:2] == ["forecast", "action"]


def test_a_body_that_is_not_json_is_400(client: TestClient) -> None:
    for path in ("/v1/signal", "/v2/models/ensemble/infer"):
        answer = client.post(path, content=b"symbol=SYN&timeframe=5m")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"].startswith("body: expected a JSON object, found text")


def test_epoch_milliseconds_in_quotes_are_the_same_candles(client: TestClient) -> None:
    body = signal_body()
    quoted = {**body, "candles": [{**row, "t": str(row["t"])} for row in body["candles"]]}
    plain = client.post("/v1/forecast", json=body)
    as_text = client.post("/v1/forecast", json=quoted)
    assert plain.status_code == as_text.status_code == 200, as_text.text
    assert as_text.json()["as_of"] == plain.json()["as_of"]
    assert as_text.json()["forecast"] == plain.json()["forecast"]


def test_binary_tensor_data_is_refused_by_name(client: TestClient) -> None:
    header = json.dumps(oip_body()).encode()
    for path in ("/v2/models/ensemble/infer", "/v1/signal"):
        answer = client.post(path, content=header + b"\0" * 8, headers={BINARY: str(len(header))})
        assert answer.status_code == 400
        assert (
            "binary tensor data extension (Inference-Header-Content-Length)"
            in (answer.json()["error"])
        )


def test_live_names_the_served_release(client: TestClient, trained_registry: Path) -> None:
    live = client.get("/health/live")
    assert live.status_code == 200
    assert live.json()["release"] == production_id(trained_registry)


def test_reloading_the_served_release_swaps_nothing(registry_copy: Path) -> None:
    served = production_id(registry_copy)
    with running_client(settings_for(registry_copy)) as c:
        engine = c.app.state.service.holder.engine  # type: ignore[attr-defined]
        reload = c.post("/v1/models/reload", headers=ADMIN)
        assert reload.status_code == 200, reload.text
        outcome = reload.json()
        assert outcome["ok"] and not outcome["swapped"]
        assert outcome["release"] == outcome["previous"] == outcome["serving"] == served
        again = c.post("/v1/models/promote", headers=ADMIN, json={"release": served})
        assert again.status_code == 200 and again.json()["reload"]["swapped"] is False
        assert c.app.state.service.holder.engine is engine  # type: ignore[attr-defined]

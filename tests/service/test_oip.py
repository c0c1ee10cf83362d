"""Open Inference Protocol v2: health, metadata, infer for each member and the ensemble."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.helpers import candle_rows, signal_body

FAMILIES = ("xgboost", "lightgbm", "nhits", "patchtst")


def infer_body(n: int = 256, nested: bool = False, **changes: Any) -> dict[str, Any]:
    rows = [[r["t"], r["o"], r["h"], r["l"], r["c"], r["v"]] for r in candle_rows(n)]
    data: list[Any] = rows if nested else [x for row in rows for x in row]
    tensor = {"name": "candles", "shape": [n, 6], "datatype": "FP64", "data": data}
    return {"id": "req-1", "inputs": [{**tensor, **changes}]}


def test_server_health_and_metadata(client: TestClient) -> None:
    assert client.get("/v2").json()["name"] == "quantum-ai-engine"
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    for name in ("ensemble", *FAMILIES):
        assert client.get(f"/v2/models/{name}/ready").json() == {"ready": True}
        meta = client.get(f"/v2/models/{name}").json()
        assert meta["name"] == name and meta["inputs"][0]["shape"] == [-1, 6]
        assert meta["outputs"][0] == {"name": "forecast", "datatype": "FP64", "shape": [1, 12]}
    unknown = client.get("/v2/models/gpt/ready")
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}


@pytest.mark.parametrize("name", FAMILIES)
def test_member_infer_matches_the_v1_forecast(client: TestClient, name: str) -> None:
    response = client.post(f"/v2/models/{name}/infer", json=infer_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == name and body["id"] == "req-1"
    forecast = body["outputs"][0]
    assert forecast["name"] == "forecast" and forecast["shape"] == [1, 12]
    v1 = client.post("/v1/forecast", json=signal_body()).json()
    member = next(m for m in v1["members"] if m["family"] == name)
    assert forecast["data"] == pytest.approx(member["forecast"])
    assert body["model_version"] == member["version"]


def test_ensemble_infer_is_the_signal(client: TestClient) -> None:
    body = client.post("/v2/models/ensemble/infer", json=infer_body(nested=True)).json()
    outputs = {o["name"]: o for o in body["outputs"]}
    signal = client.post("/v1/signal", json=signal_body()).json()
    assert outputs["action"]["data"] == [signal["action"]]
    assert outputs["action"]["datatype"] == "BYTES"
    assert outputs["forecast"]["data"] == pytest.approx(signal["forecast"])
    assert body["model_version"] == signal["release"]
    only = client.post(
        "/v2/models/ensemble/infer", json={**infer_body(), "outputs": [{"name": "action"}]}
    ).json()
    assert [o["name"] for o in only["outputs"]] == ["action"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"shape": [256, 5]}, "expected [n, 6]"),
        ({"shape": [255, 6]}, "expected 255 x 6"),
        ({"data": [1.0, "x"] * 768}, "inputs[0].data[1]: expected a finite number"),
        ({"datatype": "BOOL"}, "datatype"),
        ({"name": "features"}, "name"),
    ],
)
def test_bad_infer_requests_are_400_with_an_error(
    client: TestClient, changes: dict[str, Any], expected: str
) -> None:
    response = client.post("/v2/models/ensemble/infer", json=infer_body(**changes))
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"} and expected in response.json()["error"]


def test_too_few_candles_and_unknown_outputs(client: TestClient) -> None:
    few = client.post("/v2/models/xgboost/infer", json=infer_body(50))
    assert few.status_code == 400 and "at least 200 candles" in few.json()["error"]
    unknown = client.post(
        "/v2/models/ensemble/infer", json={**infer_body(), "outputs": [{"name": "nope"}]}
    )
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]


class _Untouchable(list):  # type: ignore[type-arg]
    """Tensor data that fails the test if anything iterates it."""

    def __iter__(self) -> Any:
        raise AssertionError("the tensor's values were read before its size was checked")


@pytest.mark.parametrize("shape", [[1_000_000, 6], [10, 6]])
def test_a_huge_tensor_is_refused_by_its_size_before_any_value_is_read(shape: list[int]) -> None:
    """Bounded work per body (issue 23) on /v2 too: the shape, or a data list longer than the
    shape allows, is checked against max_candles before a value is looked at."""
    from ai_engine.errors import InputError
    from ai_engine.service.inference import oip_columns
    from ai_engine.service.schemas import V2InferRequest

    request = V2InferRequest.model_validate(
        {"inputs": [{"name": "candles", "shape": shape, "datatype": "FP64", "data": [0.0]}]}
    )
    request.inputs[0].data = _Untouchable([0.0] * (6 * 10_001))
    with pytest.raises(InputError, match="expected at most 10000 candles"):
        oip_columns(request, 10_000)


def test_a_huge_tensor_body_is_a_400(client: TestClient) -> None:
    body = {
        "inputs": [
            {"name": "candles", "shape": [200_000, 6], "datatype": "FP64", "data": [0] * 1_200_000}
        ]
    }
    answer = client.post("/v2/models/ensemble/infer", json=body)
    assert answer.status_code in (400, 413), answer.text

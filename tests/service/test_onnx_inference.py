"""/v1/models says how each PyTorch member predicts (issue 26): ONNX Runtime from its checked
model.onnx, or eager torch with the reason (a bundle saved before the export: never a silent
difference)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ai_engine.models.onnx_runtime import MAX_ROWS, ONNX_FILE
from ai_engine.registry import Registry
from service.helpers import running_client, settings_for
from trained import bundle_of, edit_manifest, repin


def members(client: TestClient) -> dict[str, dict[str, object]]:
    served = client.get("/v1/models").json()["served"]
    return {m["family"]: m for m in served["members"]}


def test_models_shows_onnxruntime_for_the_pytorch_members(client: TestClient) -> None:
    found = members(client)
    for family in ("nhits", "patchtst"):
        assert found[family]["inference"] == {
            "runtime": "onnxruntime",
            "reason": None,
            "threads": 1,
            "max_rows": MAX_ROWS,
        }
    assert found["xgboost"]["inference"] is None and found["lightgbm"]["inference"] is None


def test_a_bundle_without_model_onnx_is_served_eager_with_the_reason(registry_copy: Path) -> None:
    registry = Registry(registry_copy)
    bundle = bundle_of(registry, "patchtst")
    (bundle / ONNX_FILE).unlink()
    edit_manifest(bundle, lambda m: m["files"].pop(ONNX_FILE))
    repin(registry)
    with running_client(settings_for(registry_copy)) as client:
        found = members(client)
        assert found["patchtst"]["healthy"] is True
        assert found["patchtst"]["inference"] == {
            "runtime": "torch",
            "reason": f"no {ONNX_FILE} in the bundle (saved before ONNX export)",
        }
        assert found["nhits"]["inference"]["runtime"] == "onnxruntime"

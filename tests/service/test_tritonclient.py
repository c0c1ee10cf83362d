"""NVIDIA's ``tritonclient[http]``, the reference Open Inference Protocol v2 client, against a real
``ai-engine serve``: metadata, readiness, JSON inference, and binary tensors refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from service.helpers import FRAME, SYMBOL, TIMEFRAME, production_id
from service.server import served, wait

ROWS = 256
PARAMETERS = {"symbol": SYMBOL, "timeframe": TIMEFRAME}


@pytest.fixture(scope="module")
def server(trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("triton") / "serve.log"
    with served(trained_registry, log, "--watch-interval", "0") as url:
        wait(lambda: httpx.get(f"{url}/health/ready", timeout=30).status_code == 200)
        yield url.removeprefix("http://")


def candles(binary: bool) -> triton.InferInput:
    frame = FRAME.iloc[-ROWS:]
    times = (frame.index.asi8 // 1_000_000).astype(np.float64)[:, None]
    array = np.hstack([times, frame[["open", "high", "low", "close", "volume"]].to_numpy()])
    tensor = triton.InferInput("candles", list(array.shape), "FP64")
    tensor.set_data_from_numpy(array.astype(np.float64), binary_data=binary)
    return tensor


def test_metadata_and_readiness(server: str, trained_registry: Path) -> None:
    client = triton.InferenceServerClient(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "quantum-ai-engine"
    assert client.is_model_ready("ensemble") and client.is_model_ready("xgboost")
    metadata = client.get_model_metadata("ensemble")
    assert metadata["versions"] == [production_id(trained_registry)]
    assert metadata["inputs"][0]["shape"] == [-1, 6]


def test_json_inference_without_content_type(server: str, trained_registry: Path) -> None:
    client = triton.InferenceServerClient(server)
    wanted = [
        triton.InferRequestedOutput(name, binary_data=False)
        for name in ("forecast", "action", "confidence")
    ]
    result = client.infer("ensemble", [candles(False)], outputs=wanted, parameters=PARAMETERS)
    assert result.as_numpy("forecast").shape == (1, 12)
    assert result.as_numpy("action")[0, 0] in ("BUY", "SELL", "HOLD")
    assert 0.0 <= float(result.as_numpy("confidence")[0, 0]) <= 1.0
    assert result.get_response()["model_version"] == production_id(trained_registry)
    member = client.infer("nhits", [candles(False)], parameters=PARAMETERS)  # all outputs
    assert member.as_numpy("forecast").shape == (1, 12)


def test_binary_tensor_data_is_refused_by_name(server: str) -> None:
    client = triton.InferenceServerClient(server)
    with pytest.raises(InferenceServerException) as refused:
        client.infer("ensemble", [candles(True)], parameters=PARAMETERS)
    assert "binary tensor data extension (Inference-Header-Content-Length)" in str(refused.value)
    assert "binary_data=False" in str(refused.value)

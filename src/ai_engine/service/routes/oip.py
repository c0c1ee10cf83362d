"""Open Inference Protocol v2: health, model metadata and infer, for each member and ``ensemble``.

Input: one tensor ``candles`` of shape ``[n, 6]`` (t in epoch ms, o, h, l, c, v); optional
request parameters ``symbol`` and ``timeframe`` (default: the served release's). A ``symbol`` is
routed as on /v1/signal: the release that covers it answers from that symbol's view, and a
symbol no release covers is a 404 listing the covered ones. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

import ai_engine
from ai_engine.engine import Engine
from ai_engine.errors import EngineUnavailable, NotFound
from ai_engine.service.deps import Service, ServiceState
from ai_engine.service.inference import (
    oip_columns,
    oip_ensemble_outputs,
    oip_member_outputs,
    select_outputs,
    validated_candles,
)
from ai_engine.service.routing import routed_engine
from ai_engine.service.schemas import (
    V2Error,
    V2InferRequest,
    V2InferResponse,
    V2Live,
    V2ModelMetadata,
    V2Ready,
    V2ServerMetadata,
)

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])
ENSEMBLE = "ensemble"
ModelName = Path(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    description="a member's family (xgboost, lightgbm, nhits, patchtst) or ensemble",
)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": V2Error, "description": "bad request"},
    404: {"model": V2Error, "description": "no such model"},
    413: {"model": V2Error, "description": "body too large"},
    503: {"model": V2Error, "description": "model not ready"},
}


def _check_name(engine: Engine, name: str) -> None:
    families = [m.family for m in engine.members]
    if name != ENSEMBLE and name not in families:
        raise NotFound(f"unknown model {name!r}; expected one of {[ENSEMBLE, *families]}")


async def _routed(
    request: Request, service: ServiceState, body: V2InferRequest
) -> tuple[Engine, str, str]:
    """The engine, symbol and timeframe of an infer request: with ``parameters.symbol``, the
    symbol's view of the release that covers it (as /v1/signal routes; 404 when none does) at
    ``parameters.timeframe`` or else the served release's; without, the served release."""
    params = body.parameters
    if params is None or params.symbol is None:
        engine = service.holder.require()
        request.state.release = engine.release.id
        timeframe = (params.timeframe if params else None) or engine.release.timeframe
        return engine, engine.release.symbol, timeframe
    timeframe = params.timeframe or service.holder.require().release.timeframe
    engine = await routed_engine(request, service, None, params.symbol, timeframe)
    return engine, params.symbol, timeframe


@router.get("", response_model=V2ServerMetadata)
async def server_metadata() -> dict[str, Any]:
    """Server name, version and protocol extensions."""
    return {"name": "quantum-ai-engine", "version": ai_engine.__version__, "extensions": []}


@router.get("/health/live", response_model=V2Live)
async def live() -> dict[str, bool]:
    """200 while the process answers."""
    return {"live": True}


@router.get("/health/ready", response_model=V2Ready, responses={503: {"model": V2Error}})
async def ready(service: Service) -> dict[str, bool]:
    """200 while the served release reaches consensus, 503 with the reason otherwise."""
    is_ready, reason = service.holder.readiness()
    if not is_ready:
        raise EngineUnavailable(reason)
    return {"ready": True}


@router.get("/models/{name}/ready", response_model=V2Ready, responses=ERRORS)
async def model_ready(service: Service, name: str = ModelName) -> dict[str, bool]:
    """A member: 200 when it loaded healthy. ``ensemble``: 200 while it reaches consensus."""
    engine = service.holder.require()
    _check_name(engine, name)
    if name == ENSEMBLE:
        is_ready, reason = service.holder.readiness()
    else:
        member = next(m for m in engine.members if m.family == name)
        is_ready, reason = member.healthy, f"model {name!r} is unhealthy: {member.reason}"
    if not is_ready:
        raise EngineUnavailable(reason)
    return {"ready": True}


@router.get("/models/{name}", response_model=V2ModelMetadata, responses=ERRORS)
async def model_metadata(service: Service, name: str = ModelName) -> dict[str, Any]:
    """Versions, inputs and outputs of a member or of the ensemble."""
    engine = service.holder.require()
    _check_name(engine, name)
    horizon = engine.spec.horizon
    outputs = [{"name": "forecast", "datatype": "FP64", "shape": [1, horizon]}]
    if name == ENSEMBLE:
        version, platform = engine.release.id, "ai-engine/ensemble"
        outputs += [
            {"name": "action", "datatype": "BYTES", "shape": [1, 1]},
            {"name": "confidence", "datatype": "FP64", "shape": [1, 1]},
            {"name": "expected_return", "datatype": "FP64", "shape": [1, 1]},
        ]
    else:
        version = next(m.version for m in engine.members if m.family == name)
        platform = f"ai-engine/{name}"
    return {
        "name": name,
        "versions": [version],
        "platform": platform,
        "inputs": [{"name": "candles", "datatype": "FP64", "shape": [-1, 6]}],
        "outputs": outputs,
        "parameters": {
            "release": engine.release.id,
            "symbol": engine.release.symbol,
            "timeframe": engine.release.timeframe,
            "required_candles": engine.required_candles,
        },
    }


@router.post("/models/{name}/infer", response_model=V2InferResponse, responses=ERRORS)
async def infer(
    body: V2InferRequest, request: Request, service: Service, name: str = ModelName
) -> dict[str, Any]:
    """Forecast of a member, or the ensemble's signal as tensors, for the last candle."""
    engine, symbol, timeframe = await _routed(request, service, body)
    _check_name(engine, name)
    candles = validated_candles(
        oip_columns(body, service.settings.max_candles),
        ["inputs", 0],
        symbol,
        timeframe,
        engine,
        service.settings.max_candles,
    )
    if name == ENSEMBLE:
        outputs = await oip_ensemble_outputs(service.signals, engine, candles)
        version = engine.release.id
    else:
        outputs = await oip_member_outputs(service.batcher, engine, name, candles)
        version = next(m.version for m in engine.members if m.family == name)
    return {
        "model_name": name,
        "model_version": version,
        "id": body.id,
        "parameters": {
            "release": engine.release.id,
            "as_of": candles.last_bar.isoformat(),
        },
        "outputs": select_outputs(outputs, body),
    }

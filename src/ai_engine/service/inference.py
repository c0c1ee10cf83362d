"""Helpers between the wire and the core: request candles -> validated Candles, results -> JSON.

Validation itself is the core's (``ai_engine.data.candles_from_columns``); here only the shape
of the request is taken apart and the service's own limits are checked.
"""

from __future__ import annotations

import math
from typing import Any

from ai_engine.data import Candles, ValidationSettings, candles_from_columns
from ai_engine.engine import Engine
from ai_engine.ensemble import MemberForecast
from ai_engine.errors import DataValidationError, EngineUnavailable, InputError
from ai_engine.service.schemas import WIRE_NAMES, CandlesIn, V2InferRequest
from ai_engine.serving import Signals
from ai_engine.serving.batcher import ForecastBatcher

COLUMN_NAMES = ("date", "open", "high", "low", "close", "volume")


def columns_of(body: CandlesIn) -> tuple[dict[str, list[Any]], list[str | int]]:
    """The request's rows or columns under the core's column names, and the field they came in."""
    pairs = list(zip(COLUMN_NAMES, WIRE_NAMES, strict=True))
    if body.columns is not None:
        return {name: getattr(body.columns, wire) for name, wire in pairs}, ["body", "columns"]
    rows = body.candles or []
    return (
        {name: [row[wire] for row in rows] for name, wire in pairs},  # type: ignore[literal-required]
        ["body", "candles"],
    )


def check_limits(
    engine: Engine,
    timeframe: str,
    count: int,
    max_candles: int,
    loc: list[Any],
    timeframe_loc: list[Any],
) -> None:
    """At most ``max_candles`` candles, of the timeframe ``engine`` was trained on."""
    if count > max_candles:
        raise InputError(
            loc,
            f"{'.'.join(map(str, loc))}: expected at most {max_candles} candles "
            f"per request (AI_ENGINE_MAX_CANDLES), found {count}",
        )
    mismatch = engine.timeframe_error(timeframe)
    if mismatch is not None:
        raise InputError(timeframe_loc, mismatch)


def validated_candles(
    columns: dict[str, list[Any]],
    loc: list[str | int],
    symbol: str,
    timeframe: str,
    engine: Engine,
    max_candles: int,
) -> Candles:
    """Check the service's limits, then let the core validate the candles for ``engine``."""
    check_limits(engine, timeframe, len(columns["date"]), max_candles, loc, ["body", "timeframe"])
    settings = ValidationSettings(min_rows=engine.required_candles)
    try:
        return candles_from_columns(columns, symbol, timeframe, settings, ".".join(map(str, loc)))
    except DataValidationError as exc:
        raise InputError(loc, str(exc)) from exc


async def member_forecasts(
    batcher: ForecastBatcher,
    engine: Engine,
    candles: Candles,
    consensus: bool = True,
    digest: bytes | None = None,
) -> list[MemberForecast]:
    """Every member's forecast for the last candle, predicted together with other requests'.

    With ``consensus``, ConsensusError first when too few members loaded healthy. ``digest``:
    the candles' window digest when known (batcher.window_digest).
    """
    if consensus:
        engine.check_consensus()
    return (await batcher.window_forecasts(engine, candles, digest))[1]


# ---- Open Inference Protocol v2 ------------------------------------------------------------
def oip_columns(request: V2InferRequest, max_candles: int) -> dict[str, list[Any]]:
    """The ``candles`` tensor ``[n, 6]`` (flat row-major or nested rows) as columns; its shape
    and size are checked against ``max_candles`` before any per-value work."""
    tensor = request.inputs[0]
    n, width = tensor.shape
    if width != len(WIRE_NAMES):
        raise InputError(
            ["inputs", 0, "shape"],
            f"inputs[0].shape: expected [n, 6] (t, o, h, l, c, v), found {tensor.shape}",
        )
    if n > max_candles or len(tensor.data) > max_candles * width:
        raise InputError(
            ["inputs", 0, "shape"],
            f"inputs.0.shape: expected at most {max_candles} candles per request "
            f"(AI_ENGINE_MAX_CANDLES), found {max(n, len(tensor.data) // width)}",
        )
    flat: list[Any] = []
    for item in tensor.data:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    if len(flat) != n * width:
        raise InputError(
            ["inputs", 0, "data"],
            f"inputs[0].data: expected {n} x {width} = "
            f"{n * width} numbers for shape {tensor.shape}, "
            f"found {len(flat)}",
        )
    for i, value in enumerate(flat):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise InputError(
                ["inputs", 0, "data", i],
                f"inputs[0].data[{i}]: expected a finite number, found {_short(value)}",
            )
    return {name: flat[k::width] for k, name in enumerate(COLUMN_NAMES)}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def tensor(name: str, values: list[Any], datatype: str = "FP64") -> dict[str, Any]:
    """An OIP output tensor holding ``values`` with shape ``[1, len(values)]``."""
    return {"name": name, "shape": [1, len(values)], "datatype": datatype, "data": values}


async def oip_member_outputs(
    batcher: ForecastBatcher, engine: Engine, family: str, candles: Candles
) -> list[dict[str, Any]]:
    """One member's forecast as an OIP output; EngineUnavailable when it is unhealthy."""
    forecasts = await member_forecasts(batcher, engine, candles, consensus=False)
    member = next(m for m in forecasts if m.family == family)
    if member.forecast is None:
        raise EngineUnavailable(
            f"model {family!r} of release {engine.release.id} is unhealthy: {member.reason}"
        )
    return [tensor("forecast", [float(v) for v in member.forecast])]


async def oip_ensemble_outputs(
    signals: Signals, engine: Engine, candles: Candles
) -> list[dict[str, Any]]:
    """The ensemble's signal (the data plane's, with every gate) as OIP outputs: forecast,
    action, confidence, expected_return."""
    signal = await signals.signal(engine, candles)
    return [
        tensor("forecast", signal["forecast"]),
        tensor("action", [signal["action"]], "BYTES"),
        tensor("confidence", [signal["confidence"]]),
        tensor("expected_return", [signal["expected_return"]]),
    ]


def select_outputs(outputs: list[dict[str, Any]], request: V2InferRequest) -> list[dict[str, Any]]:
    """Only the outputs the request asked for (all when it named none)."""
    if not request.outputs:
        return outputs
    by_name = {o["name"]: o for o in outputs}
    unknown = [o.name for o in request.outputs if o.name not in by_name]
    if unknown:
        raise InputError(
            ["outputs"], f"outputs: unknown output(s) {unknown}; expected some of {sorted(by_name)}"
        )
    return [by_name[o.name] for o in request.outputs]

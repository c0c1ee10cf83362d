"""POST /v1/stream/{symbol}/{timeframe}: only the newest candle(s) in, the signal out.

The server keeps a window per (symbol, timeframe) (stream_window.py). A body of at least the
release's ``required_candles`` candles (re)starts the window; fewer must continue it exactly,
else 409 naming the candle expected. Validation is the same as /v1/signal's (422 naming the
field); the answer is the same Signal as /v1/signal on the window's candles. docs/api.md says
how it behaves across a restart and with several replicas.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from starlette.responses import Response

from ai_engine.candle_arrays import candles_from_arrays
from ai_engine.data import ValidationSettings, candles_from_columns
from ai_engine.engine import Engine
from ai_engine.errors import DataValidationError, InputError, InvariantError
from ai_engine.service.deps import ReleaseQuery, ServiceState
from ai_engine.service.fastjson import JSONBytes, parse_candles
from ai_engine.service.fastpath import read_body, request_body
from ai_engine.service.inference import check_limits, columns_of
from ai_engine.service.routes.signal import ERRORS
from ai_engine.service.routing import routed_engine
from ai_engine.service.schemas import (
    HARD_MAX_CANDLES,
    CandleColumns,
    CandleRow,
    CandlesIn,
    ErrorOut,
    SignalOut,
)
from ai_engine.serving.stream_window import StreamWindows, full_window

router = APIRouter(prefix="/v1", tags=["stream"])
STREAM_ERRORS: dict[int | str, dict[str, object]] = {
    **ERRORS,
    409: {
        "model": ErrorOut,
        "description": "the candles do not continue the server's window (a gap, a duplicate, "
        "an earlier candle) or it has none: the message names the candle expected; resend the "
        "full window",
    },
}
StreamSymbol = Annotated[str, Path(min_length=1, max_length=64, examples=["BTC/USDT"])]
StreamTimeframe = Annotated[
    str, Path(pattern=r"^[1-9][0-9]{0,3}[mhdw]$", examples=["5m", "1h", "1d"])
]


class StreamIn(BaseModel):
    """The newest candle(s), oldest first, as rows or columns (exactly one); at least the
    release's required candles (re)start the window."""

    model_config = ConfigDict(extra="forbid")
    candles: list[CandleRow] | None = Field(
        default=None, max_length=HARD_MAX_CANDLES, description="rows {t,o,h,l,c,v}, oldest first"
    )
    columns: CandleColumns | None = Field(
        default=None, description="the same candles as equal-length columns"
    )

    @model_validator(mode="after")
    def _one_layout(self) -> StreamIn:
        if (self.candles is None) == (self.columns is None):
            raise PydanticCustomError(
                "candle_layout", "give exactly one of 'candles' (rows) or 'columns'"
            )
        return self


def windows_of(request: Request) -> StreamWindows:
    """The app's stream windows (``ServiceState.streams``)."""
    service: ServiceState = request.app.state.service
    return service.streams


TIMEFRAME_LOC: list[Any] = ["path", "timeframe"]


async def stream_signal(
    request: Request,
    service: ServiceState,
    engine: Engine,
    key: tuple[str, str],
    times_ns: np.ndarray,
    values: np.ndarray,
    loc: list[str | int],
) -> dict[str, Any]:
    """Advance (or start) the key's window with the new candles, then answer its Signal.

    The window changes before the first await, so requests for one key apply in order."""
    symbol, timeframe = key
    windows, required = windows_of(request), engine.required_candles
    source = ".".join(map(str, loc))
    try:
        if len(times_ns) >= required:  # a full window: (re)start
            settings = ValidationSettings(min_rows=required)
            candles = candles_from_arrays(times_ns, values, symbol, timeframe, settings, source)
            windows.put(key, full_window(times_ns, values, timeframe))
        else:
            window = windows.extended(key, times_ns, values, required, loc)
            if window is None:  # a row breaks a rule: the core says which
                settings = ValidationSettings(min_rows=0)
                candles_from_arrays(times_ns, values, symbol, timeframe, settings, source)
                raise InvariantError(f"{source}: rows refused by the fast checks passed the core")
            windows.put(key, window)
            candles = window.candles(symbol, timeframe)
    except InputError:
        raise
    except DataValidationError as exc:
        raise InputError(loc, str(exc)) from exc
    return await service.signals.signal(engine, candles, remember=False)


@router.post(
    "/stream/{symbol:path}/{timeframe}",
    response_model=SignalOut,
    responses=STREAM_ERRORS,
    openapi_extra=request_body(StreamIn),
)
async def post_stream(
    symbol: StreamSymbol,
    timeframe: StreamTimeframe,
    request: Request,
    release: ReleaseQuery = None,
) -> Response:
    """The signal after the newest candle(s), from the window this server keeps for the symbol
    and timeframe; 409 when they do not continue it (resend the full window)."""
    service: ServiceState = request.app.state.service  # not a dependency: one solve less
    body = await request.body()
    parsed = parse_candles(body, with_names=False)
    times_ns = None if parsed is None else parsed.times_ns()
    max_candles = service.settings.max_candles
    if parsed is not None and times_ns is not None:  # the plain case: orjson and numpy
        values, loc = parsed.values, parsed.loc
        engine = await routed_engine(request, service, release, symbol, timeframe)
        check_limits(engine, timeframe, len(times_ns), max_candles, loc, TIMEFRAME_LOC)
    else:  # pydantic words the error, or reads what the fast parse does not
        model = read_body(StreamIn, body, max_candles)
        engine = await routed_engine(request, service, release, symbol, timeframe)
        wire = CandlesIn.model_construct(candles=model.candles, columns=model.columns)
        columns, loc = columns_of(wire)
        check_limits(engine, timeframe, len(columns["date"]), max_candles, loc, TIMEFRAME_LOC)
        try:
            frame = candles_from_columns(
                columns, symbol, timeframe, ValidationSettings(min_rows=0), ".".join(map(str, loc))
            ).frame
        except DataValidationError as exc:
            raise InputError(loc, str(exc)) from exc
        times_ns, values = frame.index.asi8, frame.to_numpy(dtype=np.float64)
    key = (symbol, timeframe)
    return JSONBytes(await stream_signal(request, service, engine, key, times_ns, values, loc))

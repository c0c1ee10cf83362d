"""Request and response bodies (pydantic); the OpenAPI schema is generated from them.

Candles come as rows ``candles: [{t, o, h, l, c, v}, ...]`` or as
``columns: {t: [...], o: [...], ...}``.
``t`` is epoch milliseconds (or seconds) as integers, or ISO-8601 strings; every price and
volume must be a finite number (NaN, Infinity and overflowing literals such as 1e400 are 422).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator, with_config
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from ai_engine.contract.bodies import GENERATED_AT_TEXT as GENERATED_AT_TEXT
from ai_engine.contract.bodies import SCHEMA_VERSION_TEXT as SCHEMA_VERSION_TEXT
from ai_engine.contract.bodies import Consensus as Consensus
from ai_engine.contract.bodies import ForecastOut as ForecastOut
from ai_engine.contract.bodies import MemberForecastOut as MemberForecastOut
from ai_engine.contract.bodies import MemberVoteOut as MemberVoteOut
from ai_engine.contract.bodies import SignalOut as SignalOut

WIRE_NAMES = ("t", "o", "h", "l", "c", "v")
"""A candle's keys on the wire (rows) or its columns, in order: time, OHLC, volume."""
HARD_MAX_CANDLES = 1_000_000
"""Schema-level ceiling; the configured ``max_candles`` (much lower) is enforced per request."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _not_digits(value: str) -> str:
    """Epoch milliseconds in quotes are read as the number they are, not as an ISO date (the
    union then takes the integer branch, which reads "1735689600000" as 1735689600000)."""
    if value.strip().isdigit():
        raise PydanticCustomError(
            "epoch_as_string",
            "expected epoch milliseconds as a number or an ISO-8601 string, found digits in "
            "quotes: {value}",
            {"value": value[:20]},
        )
    return value


EpochOrIso = (
    Annotated[int, Field(ge=0, le=10**14, description="epoch ms (or s)")]
    | Annotated[
        str,
        Field(min_length=1, max_length=40, description="ISO-8601"),
        AfterValidator(_not_digits),
    ]
)
Symbol = Annotated[str, Field(min_length=1, max_length=64, examples=["BTC/USDT"])]
Timeframe = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}[mhdw]$", examples=["5m", "1h", "1d"])]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")]
"""A release id or alias; ``@`` for per-model-set aliases (``production@multi-5m``)."""


@with_config(ConfigDict(extra="forbid"))
class CandleRow(TypedDict):
    """One candle: time, open, high, low, close, volume."""

    t: EpochOrIso
    o: FiniteFloat
    h: FiniteFloat
    l: FiniteFloat  # noqa: E741 - the wire name of "low"
    c: FiniteFloat
    v: FiniteFloat


class CandleColumns(BaseModel):
    """Candles as equal-length columns (cheaper to send and to parse than rows)."""

    model_config = ConfigDict(extra="forbid")
    t: list[EpochOrIso] = Field(max_length=HARD_MAX_CANDLES)
    o: list[FiniteFloat] = Field(max_length=HARD_MAX_CANDLES)
    h: list[FiniteFloat] = Field(max_length=HARD_MAX_CANDLES)
    l: list[FiniteFloat] = Field(max_length=HARD_MAX_CANDLES)  # noqa: E741
    c: list[FiniteFloat] = Field(max_length=HARD_MAX_CANDLES)
    v: list[FiniteFloat] = Field(max_length=HARD_MAX_CANDLES)

    @model_validator(mode="after")
    def _equal_lengths(self) -> CandleColumns:
        lengths = {k: len(getattr(self, k)) for k in ("t", "o", "h", "l", "c", "v")}
        if len(set(lengths.values())) != 1:
            raise PydanticCustomError(
                "unequal_columns",
                "columns must have equal lengths, found {lengths}",
                {"lengths": str(lengths)},
            )
        return self


class CandlesIn(BaseModel):
    """The input of /v1/signal and /v1/forecast: candles oldest first, the last one is "now".

    Give exactly one of ``candles`` (rows) or ``columns``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "symbol": "BTC/USDT",
                    "timeframe": "5m",
                    "candles": [
                        {
                            "t": 1735689600000,
                            "o": 93500.0,
                            "h": 93610.5,
                            "l": 93480.0,
                            "c": 93590.2,
                            "v": 12.7,
                        }
                    ],
                }
            ]
        },
    )
    symbol: Symbol
    timeframe: Timeframe
    candles: list[CandleRow] | None = Field(
        default=None, max_length=HARD_MAX_CANDLES, description="rows {t,o,h,l,c,v}, oldest first"
    )
    columns: CandleColumns | None = Field(
        default=None, description="the same candles as equal-length columns"
    )

    @model_validator(mode="after")
    def _one_layout(self) -> CandlesIn:
        if (self.candles is None) == (self.columns is None):
            raise PydanticCustomError(
                "candle_layout", "give exactly one of 'candles' (rows) or 'columns'"
            )
        return self


# ---- responses -----------------------------------------------------------------------------
class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every non-2xx answer of /v1 and /health: one line, plus field details for 422."""

    error: str
    detail: list[ErrorItem] = []


class MemberOut(BaseModel):
    """One member of the served release: loaded healthy, or why not."""

    family: str
    version: str
    healthy: bool
    reason: str | None
    weight: float
    inference: dict[str, Any] | None = Field(
        default=None,
        description="how a PyTorch member predicts: runtime `onnxruntime` (its checked "
        "model.onnx, batches up to max_rows) or `torch` with the reason (no model.onnx in an "
        "older bundle, or one that differs from the eager network); null for other families",
    )


class ServedRelease(BaseModel):
    """The served release (``release`` is its id), its readiness and its members."""

    release: str
    model_set: str
    symbol: str
    timeframe: str
    created_at: str
    loaded_at: str | None
    feature_fingerprint: str
    required_candles: int
    ensemble: dict[str, Any]
    combination: dict[str, Any] = Field(
        default={},
        description="the weights signals use (members' `weight`): method, horizon, edge, weights, "
        "per_horizon, label; without an edge every weight is 0",
    )
    edge: dict[str, Any] = Field(
        description="the release's out-of-fold edge verdict: enabled, horizon, method, p_value, "
        "oos_r2, net_return, costs, per_horizon (empty for releases made before it)"
    )
    ready: bool
    reason: str
    members: list[MemberOut]
    symbols: list[str] = Field(
        default=[],
        description="the symbols a multi-symbol release covers (empty: one symbol, `symbol`, "
        "and it answers any symbol of its timeframe)",
    )
    series: list[str] = Field(
        default=[],
        description="a release of several timeframes: every series it covers, `SYMBOL@TF` "
        "(`timeframe` then lists the timeframes); empty: `symbols` at `timeframe`",
    )


class CoverageOut(BaseModel):
    """An alias that routes signals (``production``, ``production@<model_set>``) and what its
    release covers (coverage.Coverage)."""

    alias: str
    release: str
    model_set: str
    timeframe: str
    symbols: list[str]
    any_symbol: bool
    series: list[str] = Field(
        default=[], description="every (symbol, timeframe) the release answers, `SYMBOL@TF`"
    )


class ReloadOut(BaseModel):
    """What one reload attempt did (the holder's ReloadOutcome)."""

    ok: bool
    swapped: bool
    trigger: str
    requested: str
    release: str | None
    previous: str | None
    serving: str | None
    reason: str | None
    at: str
    duration_ms: float


class ShadowOut(BaseModel):
    """The shadow alias (AI_ENGINE_SHADOW): computed beside the served one, never answered."""

    alias: str
    release: str | None
    error: str | None = Field(description="why no shadow release is loaded; serving goes on")
    pending: int = Field(description="bars whose forecasts wait for their outcome")
    computed: int
    failed: int
    skipped: int
    dropped: int


class ModelsOut(BaseModel):
    """What is served, why not when nothing is, and how the last reload went."""

    reference: str
    registry: str = Field(description="the registry folder's name (never its full path)")
    served: ServedRelease | None
    error: str | None
    running_feature_fingerprint: str
    max_candles: int
    watching: bool
    last_reload: ReloadOut | None
    coverage: list[CoverageOut] = Field(
        default=[],
        description="what each routing alias's release covers; /v1/signal goes to the first "
        "that covers the request's symbol and timeframe",
    )
    shadow: ShadowOut | None = Field(
        default=None, description="the shadow alias's state; null without AI_ENGINE_SHADOW"
    )


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: Name = Field(description="release id (or alias) to promote")
    alias: Literal["production", "candidate"] = "production"


class PromoteOut(BaseModel):
    alias: str
    release: str
    previous: str | None
    reload: ReloadOut | None


class HealthOut(BaseModel):
    status: Literal["live", "ready", "not ready"]
    release: str | None = None
    reason: str | None = None


# ---- Open Inference Protocol v2 ----------------------------------------------------------
class V2Error(BaseModel):
    error: str


class V2ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class V2Ready(BaseModel):
    ready: bool


class V2Live(BaseModel):
    live: bool


class V2TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]
    parameters: dict[str, Any] = {}


NestedNumbers = list[Any]


class V2InferInput(BaseModel):
    name: Literal["candles"] = Field(description="the one input: candles as an [n, 6] tensor")
    shape: list[Annotated[int, Field(ge=0, le=HARD_MAX_CANDLES)]] = Field(
        min_length=2, max_length=2, description="[n, 6]: columns t (epoch ms), o, h, l, c, v"
    )
    datatype: Literal["FP64", "FP32", "INT64"]
    data: NestedNumbers = Field(description="row-major flat list, or nested [[t,o,h,l,c,v], ...]")
    parameters: dict[str, Any] | None = None


class V2InferParameters(BaseModel):
    symbol: Symbol | None = None
    timeframe: Timeframe | None = None


class V2RequestedOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class V2InferRequest(BaseModel):
    id: Annotated[str, Field(max_length=128)] | None = None
    parameters: V2InferParameters | None = None
    inputs: list[V2InferInput] = Field(min_length=1, max_length=1)
    outputs: list[V2RequestedOutput] | None = None


class V2InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class V2InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any] = {}
    outputs: list[V2InferOutput]

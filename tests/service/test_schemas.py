"""The wire bound to the core: every response model is checked field for field (names and types)
against the core type it carries, so a field added to one side alone fails here."""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np
import pytest
from pydantic import BaseModel
from typing_extensions import is_typeddict

from ai_engine.coverage import Coverage
from ai_engine.engine import Member
from ai_engine.ensemble import (
    ConsensusCounts,
    EnsembleSettings,
    MemberForecast,
    MemberVote,
    Signal,
    combine,
)
from ai_engine.registry import Release
from ai_engine.safety.config import EssConfig, LimitsConfig, SafetyConfig, SizingConfig
from ai_engine.safety.ess import EssStatus, Transition
from ai_engine.safety.governance import Adjustment
from ai_engine.safety.ledger import Snapshot
from ai_engine.service import ServiceSettings, create_app
from ai_engine.service import position_schemas as position_wire
from ai_engine.service import safety_schemas as safety_wire
from ai_engine.service import schemas as wire
from ai_engine.service.routes.contract import JsonSchemaOut
from ai_engine.serving.holder import ReloadOutcome
from ai_engine.serving.shadow import ShadowStatus

NESTED: dict[Any, type[BaseModel]] = {
    MemberVote: wire.MemberVoteOut,
    ConsensusCounts: wire.Consensus,
    MemberForecast: wire.MemberForecastOut,
    ReloadOutcome: wire.ReloadOut,
    Member: wire.MemberOut,
    SizingConfig: safety_wire.SizingConfigOut,
    LimitsConfig: safety_wire.LimitsConfigOut,
    EssConfig: safety_wire.EssConfigOut,
}
"""Core types nested in other core types, and the wire model each travels as."""


@dataclass(frozen=True)
class Binding:
    """A wire model and the core type it carries; every difference is named with its reason."""

    core: Any
    wire: type[BaseModel]
    renamed: dict[str, str] = field(default_factory=dict)
    """core field -> its wire name"""
    not_on_wire: dict[str, str] = field(default_factory=dict)
    """core field -> why the wire leaves it out"""
    wire_only: dict[str, str] = field(default_factory=dict)
    """wire field -> where its value comes from"""
    retyped: dict[str, str] = field(default_factory=dict)
    """field on both sides whose wire type is another shape -> why"""


NO_DECISION = "/v1/forecast gives forecasts without a decision"
ISO_TIME = "epoch seconds in the store, ISO-8601 UTC on the wire (ess.iso)"
ESS_STATE = "a str in the core (a name of ess.SEVERITY), a Literal of the three states on the wire"
BINDINGS = [
    Binding(Signal, wire.SignalOut),
    Binding(MemberVote, wire.MemberVoteOut),
    Binding(ConsensusCounts, wire.Consensus),
    Binding(ReloadOutcome, wire.ReloadOut),
    Binding(
        MemberForecast,
        wire.MemberForecastOut,
        wire_only={
            "weight": "the ensemble weight renormalised over healthy members",
            "bundle_sha256": "the release's pinned manifest digest (Engine.bundle_hashes)",
        },
    ),
    Binding(
        Member,
        wire.MemberOut,
        not_on_wire={"bundle": "the loaded model itself"},
        wire_only={
            "weight": "the release's ensemble weight of the member",
            "inference": "how the loaded model predicts (its `inference`: ONNX Runtime or torch)",
        },
    ),
    Binding(
        Signal,
        wire.ForecastOut,
        not_on_wire={
            name: NO_DECISION
            for name in (
                "action",
                "confidence",
                "expected_return",
                "consensus",
                "reason",
                "forecast_lower",
                "forecast_upper",
                "edge",
                "decision",
            )
        },
        retyped={"members": "forecasts and weights without votes (MemberForecast)"},
    ),
    Binding(
        Release,
        wire.ServedRelease,
        renamed={"id": "release"},
        not_on_wire={
            "format_version": "a storage detail of the release file",
            "metrics": "training metrics; `ai-engine models show` prints them",
            "evaluation": "out-of-fold evidence; each signal carries its verdict (edge, decision)",
            "any_symbol": "a release of one file answers any symbol: `symbols` is then empty",
        },
        wire_only={
            "loaded_at": "when the holder swapped the release in",
            "required_candles": "the engine's longest feature window",
            "ready": "the holder's readiness",
            "reason": "the holder's readiness reason",
            "edge": "evaluation['edge'], the verdict part of the release's evidence",
            "combination": "Engine.combination(): the weights signals use, per horizon, labelled",
            "symbol": "Release.symbol, derived from its series (release format v2)",
            "symbols": "Release.symbols, derived from its series (empty: any symbol)",
            "timeframe": "Release.timeframe, derived from its series",
        },
        retyped={
            "members": "served with each loaded member's health (engine.Member)",
            "series": "the typed series as their SYMBOL@TF keys (Release.series_keys)",
        },
    ),
    Binding(Adjustment, safety_wire.AdjustmentOut),
    Binding(Snapshot, safety_wire.SnapshotOut, retyped={"at": ISO_TIME}),
    Binding(
        Transition,
        safety_wire.TransitionOut,
        retyped={"at": ISO_TIME, "from_state": ESS_STATE, "to_state": ESS_STATE},
    ),
    Binding(
        EssStatus,
        safety_wire.EssOut,
        wire_only={"transitions": "the newest audited transitions (ess.history)"},
        retyped={"state": ESS_STATE, "since": ISO_TIME, "reset_at": ISO_TIME},
    ),
    Binding(Coverage, wire.CoverageOut),
    Binding(ShadowStatus, wire.ShadowOut),
    Binding(SafetyConfig, safety_wire.LimitsOut),
    Binding(SizingConfig, safety_wire.SizingConfigOut),
    Binding(LimitsConfig, safety_wire.LimitsConfigOut),
    Binding(EssConfig, safety_wire.EssConfigOut),
]

WIRE_ONLY = {
    wire.ErrorOut: "the one error body of /v1 and /health",
    wire.ErrorItem: "a field error of ErrorOut",
    wire.HealthOut: "liveness and readiness, from the holder",
    wire.ModelsOut: "the holder's state and the service settings",
    wire.PromoteOut: "the alias, its new and previous release and the reload outcome",
    wire.V2Error: "Open Inference Protocol v2 error body",
    wire.V2ServerMetadata: "Open Inference Protocol v2",
    wire.V2Live: "Open Inference Protocol v2",
    wire.V2Ready: "Open Inference Protocol v2",
    wire.V2ModelMetadata: "Open Inference Protocol v2",
    wire.V2TensorMetadata: "Open Inference Protocol v2",
    wire.V2InferResponse: "Open Inference Protocol v2; its tensors come from SignalOut's fields",
    wire.V2InferOutput: "Open Inference Protocol v2",
    safety_wire.AccountOut: "the latest snapshot, open positions and curve (SafetyDesk.account)",
    safety_wire.PositionOut: "a positions row with its fraction of equity (ledger.position_json)",
    safety_wire.FillOut: "the booked position, its P&L and the account (SafetyDesk.report_fill)",
    safety_wire.FillsOut: "the list of GET /v1/fills",
    safety_wire.FillRecordOut: "a fills row (ledger.recent_fills)",
    safety_wire.ProposalOut: "assembled by SafetyDesk.propose from the sizing, the governance "
    "steps and the ESS gate; its adjustments bind to Adjustment",
    safety_wire.FreshnessOut: "a freshness row with its age now (monitor.freshness)",
    safety_wire.ReleaseStatusOut: "the holder's served release and readiness, the edge verdict",
    safety_wire.StatusOut: "the ESS, readiness and freshness, combined by GET /v1/status",
    safety_wire.MemberRefOut: "a signal member's family, version and bundle hash, as a "
    "proposal carries it (contract.carried)",
    safety_wire.ReservationOut: "a proposal row's reserved notional and valid_until "
    "(SafetyDesk.propose)",
    safety_wire.LiveReservationOut: "a live reservation row (reservations.live)",
    position_wire.PositionsOut: "open positions split by owner (PositionBook.positions)",
    position_wire.PositionReportOut: "PositionsOut and the report's differences",
    position_wire.DifferenceOut: "a store/report difference (ownership.differences)",
    position_wire.ReportSummaryOut: "time and size of the last position report",
    position_wire.ExitOut: "an exit due for an owner's position (ownership.due_exits)",
    position_wire.ExitsOut: "the owner, the time and the exits due (GET /v1/exits)",
    JsonSchemaOut: "a JSON Schema document (contract.schemas), not a body of the engine",
}
"""Response models with no core type to bind: the protocol or the service defines them."""


def core_fields(cls: Any) -> dict[str, Any]:
    """Field name -> resolved type of a dataclass (public properties included), a TypedDict or
    a pydantic model."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return {name: info.annotation for name, info in cls.model_fields.items()}
    hints = get_type_hints(cls)
    if is_typeddict(cls):
        return hints
    assert dataclasses.is_dataclass(cls), f"{cls}: expected a dataclass, TypedDict or model"
    found = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    for name, value in vars(cls).items():
        if isinstance(value, property) and not name.startswith("_") and value.fget is not None:
            found[name] = get_type_hints(value.fget)["return"]
    return found


def wire_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {name: info.annotation for name, info in model.model_fields.items()}


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    return get_args(tp) if get_origin(tp) in (Union, types.UnionType) else None


def same_type(core: Any, on_wire: Any) -> bool:
    """True when a value of type ``core`` travels as ``on_wire`` (nested core types as their
    wire models, numpy arrays as lists of floats, Literals by their values, unions unordered)."""
    if get_origin(on_wire) is Annotated:
        on_wire = get_args(on_wire)[0]
    if core in NESTED:
        return on_wire is NESTED[core]
    if core is np.ndarray:
        return bool(on_wire == list[float])
    core_union, wire_union = _union_args(core), _union_args(on_wire)
    if core_union is not None or wire_union is not None:
        if core_union is None or wire_union is None or len(core_union) != len(wire_union):
            return False
        return all(any(same_type(c, w) for w in wire_union) for c in core_union) and all(
            any(same_type(c, w) for c in core_union) for w in wire_union
        )
    if get_origin(core) is Literal or get_origin(on_wire) is Literal:
        return get_origin(core) is get_origin(on_wire) and set(get_args(core)) == set(
            get_args(on_wire)
        )
    if get_origin(core) is not None or get_origin(on_wire) is not None:
        core_args, wire_args = get_args(core), get_args(on_wire)
        return (
            get_origin(core) is get_origin(on_wire)
            and len(core_args) == len(wire_args)
            and all(same_type(c, w) for c, w in zip(core_args, wire_args, strict=True))
        )
    return bool(core == on_wire)


def binding_problems(binding: Binding) -> list[str]:
    """Every way ``binding.wire`` differs from ``binding.core`` beyond the declared ones."""
    core, on_wire = core_fields(binding.core), wire_fields(binding.wire)
    core_name, wire_name = binding.core.__name__, binding.wire.__name__
    problems = [
        f"{wire_name} vs {core_name}: declared difference {name!r} is no field of {side}"
        for declared, side, fields in (
            (binding.renamed, "the core", core),
            (binding.not_on_wire, "the core", core),
            (binding.wire_only, "the wire", on_wire),
            (binding.retyped, "the core", core),
        )
        for name in declared
        if name not in fields
    ]
    carried = {
        binding.renamed.get(f, f): t for f, t in core.items() if f not in binding.not_on_wire
    }
    for name in sorted(set(carried) - set(on_wire)):
        problems.append(f"{core_name}.{name} ({carried[name]}) is missing from {wire_name}")
    for name in sorted(set(on_wire) - set(carried) - set(binding.wire_only)):
        problems.append(f"{wire_name}.{name} has no field in {core_name}")
    for name in sorted(set(carried) & set(on_wire) - set(binding.retyped)):
        if not same_type(carried[name], on_wire[name]):
            problems.append(
                f"{wire_name}.{name} is {on_wire[name]}, {core_name} has {carried[name]}"
            )
    return problems


@pytest.mark.parametrize(
    "binding", BINDINGS, ids=[f"{b.wire.__name__}-{b.core.__name__}" for b in BINDINGS]
)
def test_the_wire_model_carries_its_core_type_field_for_field(binding: Binding) -> None:
    assert binding_problems(binding) == []


def test_the_comparison_catches_a_field_added_to_one_side_only() -> None:
    @dataclass(frozen=True)
    class Richer:
        symbol: str
        margin: float

    class Poorer(BaseModel):
        symbol: str

    class Mistyped(BaseModel):
        symbol: str
        margin: int

    assert binding_problems(Binding(Richer, Poorer)) == [
        "Richer.margin (<class 'float'>) is missing from Poorer"
    ]
    assert binding_problems(Binding(Richer, Mistyped)) == [
        "Mistyped.margin is <class 'int'>, Richer has <class 'float'>"
    ]
    assert binding_problems(Binding(Poorer, Mistyped)) == ["Mistyped.margin has no field in Poorer"]
    assert not same_type(Literal["BUY", "SELL"], Literal["BUY", "SELL", "HOLD"])
    assert not same_type(str | None, str)
    assert not same_type(list[MemberVote], list[wire.MemberForecastOut])


FASTAPI_OWN = {"HTTPValidationError", "ValidationError"}
"""FastAPI's default 422 documentation of routes that do not declare their own."""


def _refs(node: Any) -> list[str]:
    """Names of the component schemas ``node`` refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        own = [ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else []
        return own + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The app's OpenAPI document (an app that is never started: no registry needed)."""
    return create_app(ServiceSettings(registry=Path("unused"))).openapi()


def test_every_response_model_is_bound_or_declared_wire_only(openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    pending = [
        name
        for operations in openapi["paths"].values()
        for operation in operations.values()
        for name in _refs(operation["responses"])
    ]
    answered: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in answered:
            answered.add(name)
            pending.extend(_refs(components[name]))
    declared = {b.wire.__name__ for b in BINDINGS} | {m.__name__ for m in WIRE_ONLY}
    unbound = sorted(answered - declared - FASTAPI_OWN)
    assert unbound == [], (
        f"response models {unbound}: bind each in BINDINGS (field for field against the core "
        "type it carries) or list it in WIRE_ONLY with the reason it has no core type"
    )
    assert sorted(declared - answered) == []  # no stale declarations


def test_every_json_route_declares_its_response_model(openapi: dict[str, Any]) -> None:
    undeclared = [
        f"{method.upper()} {path}"
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if path != "/metrics"
        and not _refs(operation["responses"]["200"].get("content", {}).get("application/json"))
    ]
    assert len(openapi["paths"]) > 10 and undeclared == []


def test_a_combined_signal_and_a_reload_outcome_validate_as_their_wire_models() -> None:
    members = [
        MemberForecast("xgboost", "v1", np.linspace(0.001, 0.02, 12)),
        MemberForecast("lightgbm", "v1", np.linspace(0.001, 0.03, 12)),
        MemberForecast("nhits", "v1", np.linspace(0.0, 0.01, 12)),
        MemberForecast("patchtst", "v1", None, "BundleError: broken"),
    ]
    signal = combine(
        members, EnsembleSettings(), symbol="S", timeframe="5m", as_of="t", release="r1"
    )
    body = signal.to_json()
    assert wire.SignalOut.model_validate(body).model_dump() == body
    outcome = ReloadOutcome(True, True, "api", "production", "r1", None, "r1", None, "t", 1.5)
    assert wire.ReloadOut.model_validate(outcome.to_json()).model_dump() == outcome.to_json()

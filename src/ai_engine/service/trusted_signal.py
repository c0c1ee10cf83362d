"""A signal handed in by a client is trusted only after the contract check against the release
that answers its symbol (DESIGN.md, safety layer).

``trusted_signal`` checks the client's ``signal`` body as ``ai-engine contract check`` does
(its JSON Schema, ``valid_until`` still ahead, the release id and every member's bundle hash
those of the release the symbol routes to, the same members as that release pins) and that it
is for the proposal's symbol and timeframe; any failure is a ContractViolation (HTTP 409) whose
code says which check failed. What sizing needs from the release (its edge verdict, decision
rule and decision horizon, and whether it has conformal intervals at all) then comes from the
release, never from the body.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ai_engine.contract import check
from ai_engine.coverage import canonical_symbol
from ai_engine.engine import Engine
from ai_engine.errors import ContractViolation


@functools.cache
def _signal_schema() -> dict[str, Any]:
    from ai_engine.contract.schemas import schema

    return schema("signal")


def release_terms(engine: Engine) -> dict[str, Any]:
    """The sizing fields a release decides: its edge verdict, decision rule and horizon."""
    evidence = engine.evidence
    return {
        "horizon": engine.settings.decision_horizon,
        "edge": {} if evidence is None else evidence.edge_summary(),
        "decision": {} if evidence is None or evidence.rule is None else evidence.rule.to_json(),
    }


def trusted_signal(
    raw: Any,
    signal: Mapping[str, Any],
    engine: Engine,
    symbol: str,
    timeframe: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``signal`` (the validated ``SignalIn`` of the client's ``raw`` body) with the release's
    terms, once ``raw`` passes the contract check against ``engine`` (the symbol's view of the
    release answering it); ContractViolation otherwise."""
    if not isinstance(raw, dict):
        raise ContractViolation(
            "SCHEMA", f"signal: expected a signal object, found {type(raw).__name__}"
        )
    release = engine.release.id
    pinned = engine.bundle_hashes
    verdict = check(raw, _signal_schema(), production=release, bundles=pinned, now=now)
    if not verdict.ok:
        raise ContractViolation(verdict.code, f"signal: {verdict.line()}")
    families = sorted(str(m.get("family")) for m in raw["members"])
    if families != sorted(pinned):
        raise ContractViolation(
            "RELEASE_MISMATCH",
            f"signal: RELEASE_MISMATCH: members {families}, release {release} pins "
            f"{sorted(pinned)}",
        )
    if canonical_symbol(str(raw["symbol"])) != canonical_symbol(symbol) or (
        raw["timeframe"] != timeframe
    ):
        raise ContractViolation(
            "SYMBOL_MISMATCH",
            f"signal: SYMBOL_MISMATCH: expected a signal for {symbol} {timeframe}, found one "
            f"for {raw['symbol']} {raw['timeframe']}",
        )
    trusted = {**signal, **release_terms(engine)}
    if engine.evidence is None:  # a release without conformal intervals sizes nothing
        trusted["forecast_lower"], trusted["forecast_upper"] = [], []
    return trusted

"""The signals of one fold's test rows, made exactly as the engine makes them for one bar.

Every row goes through ``ensemble.decide`` (or ``combine`` for a plan without evidence) with
the fold's evidence, its own return window and its own input-distance gate, so the backtest
trades what ``/v1/signal`` would have answered at that bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ai_engine.ensemble import EnsembleSettings, MemberForecast, Signal, SignalContext, decide
from ai_engine.errors import ConsensusError
from ai_engine.evaluation import Evidence
from ai_engine.evaluation.conformal import outcome_scores, recent_quantiles
from ai_engine.evaluation.regimes import normalised_scores
from ai_engine.features import ModelInputs

REFUSED = "REFUSED"


@dataclass
class FoldSignals:
    """Per test row of one fold: ``T`` rows, ``H`` horizons, members in ``votes``."""

    actions: list[str]
    reasons: list[str]
    combined: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    agreeing: list[int]
    healthy: list[int]
    required: list[int]
    votes: dict[str, list[str]]


def member_answers(forecasts: dict[str, np.ndarray], i: int, version: str) -> list[MemberForecast]:
    """The members' forecasts for row ``i`` as the engine sees them (non-finite: unhealthy)."""
    out = []
    for family, values in forecasts.items():
        finite = bool(np.isfinite(values[i]).all())
        out.append(
            MemberForecast(
                family,
                version,
                values[i] if finite else None,
                None if finite else "forecast is not finite",
            )
        )
    return out


def fold_signals(
    forecasts: dict[str, np.ndarray],
    inputs: ModelInputs,
    settings: EnsembleSettings,
    evidence: Evidence,
    release: str,
    log_close: np.ndarray,
) -> FoldSignals:
    """Signals for every row of ``inputs`` from the members' forecasts ``{family: (T, H)}``;
    ``log_close`` ``(n,)``: the whole frame's, for the intervals' recent scores (each row uses
    only outcomes known at its bar)."""
    rows = len(inputs)
    width = next(iter(forecasts.values())).shape[1]
    out = FoldSignals(
        actions=[],
        reasons=[],
        combined=np.full((rows, width), np.nan),
        lower=np.full((rows, width), np.nan),
        upper=np.full((rows, width), np.nan),
        agreeing=[],
        healthy=[],
        required=[],
        votes={f: [] for f in forecasts},
    )
    distance = evidence.gate.distance(inputs.tabular)
    recent = None
    if evidence.recent_window > 0:
        if evidence.buckets is not None and evidence.vol_model is not None:
            scores = normalised_scores(
                log_close, evidence.vol_window, width, evidence.vol_model, evidence.buckets
            )
        else:
            scores = outcome_scores(log_close, evidence.vol_window, width, evidence.vol_model)
        recent = recent_quantiles(scores, inputs.rows, evidence.recent_window, evidence.coverage)
    for i in range(rows):
        answers = member_answers(forecasts, i, release)
        gates = ("ood_input",) if distance[i] > evidence.gate.threshold else ()
        row_recent = None if recent is None else recent[i : i + 1]
        context = SignalContext(inputs.sequence[i : i + 1], gates, row_recent)
        try:
            signal = decide(
                answers,
                settings,
                evidence,
                context,
                symbol="backtest",
                timeframe="",
                as_of=str(inputs.timestamps[i]),
                release=release,
            )
        except ConsensusError:
            _refused(out, answers, settings)
            continue
        _record(out, i, signal)
    return out


def _record(out: FoldSignals, i: int, signal: Signal) -> None:
    out.actions.append(signal.action)
    out.reasons.append(signal.reason or "")
    out.combined[i] = signal.forecast
    out.lower[i] = signal.forecast_lower
    out.upper[i] = signal.forecast_upper
    out.agreeing.append(signal.consensus["agreeing"])
    out.healthy.append(signal.consensus["healthy"])
    out.required.append(signal.consensus["required"])
    cast = {m.family: m.vote or "" for m in signal.members}
    for family, votes in out.votes.items():
        votes.append(cast.get(family, ""))


def _refused(out: FoldSignals, answers: list[MemberForecast], settings: EnsembleSettings) -> None:
    out.actions.append(REFUSED)
    out.reasons.append("below_quorum")
    out.agreeing.append(0)
    out.healthy.append(sum(a.healthy for a in answers))
    out.required.append(settings.min_consensus)
    for votes in out.votes.values():
        votes.append("")

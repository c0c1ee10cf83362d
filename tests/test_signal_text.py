"""The consensus line states the members' votes as cast and why the answer is what it is, and
confidence means something for HOLD (issue 27): no "0 of 4 agree DOWN" beside four UP votes, no
"confidence 1.00" on a HOLD that nothing backs."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from ai_engine.ensemble import EnsembleSettings, MemberForecast, Signal, SignalContext, decide
from ai_engine.evaluation import DecisionRule, EvaluationSettings, Evidence, evaluate
from ai_engine.features import CURRENT_SPEC, training_data
from ai_engine.signal_text import consensus_line, vote_counts

from synthetic import synthetic_frame

FAMILIES = ("xgboost", "lightgbm", "nhits", "patchtst")


@functools.lru_cache(maxsize=1)
def _inputs() -> tuple[Evidence, np.ndarray]:
    inputs, targets = training_data(synthetic_frame(400), CURRENT_SPEC)
    defaults = dict.fromkeys(FAMILIES, 0.25)
    evidence = evaluate(None, inputs, targets, EvaluationSettings(), defaults, 3)  # no edge
    return evidence, inputs.sequence[-1:]


def signal_of(finals: tuple[float, ...], evidence: Evidence | None = None) -> Signal:
    no_edge, windows = _inputs()
    members = [
        MemberForecast(f, "v1", np.linspace(v / 12, v, 12))
        for f, v in zip(FAMILIES, finals, strict=True)
    ]
    where = {"symbol": "GOOG", "timeframe": "1d", "as_of": "t", "release": "r1"}
    return decide(members, EnsembleSettings(), evidence or no_edge, SignalContext(windows), **where)


def with_edge(entry: float) -> Evidence:
    """The no-edge evidence given equal weights and a rule at h12 with entry band ``entry``."""
    no_edge, _ = _inputs()
    rule = DecisionRule(horizon=12, entry_threshold=entry, exit_threshold=0.0, min_hold_bars=1)
    weights = {f: np.full(12, 0.25) for f in FAMILIES}
    edge = {**no_edge.edge, "enabled": True, "horizon": 12, "reason": None}
    return dataclasses.replace(no_edge, weights=weights, rule=rule, edge=edge)


def test_a_no_edge_hold_with_four_up_votes_says_so_and_claims_no_confidence() -> None:
    s = signal_of((0.02, 0.01, 0.03, 0.01))
    assert (s.action, s.reason, s.expected_return) == ("HOLD", "no_edge", 0.0)
    assert vote_counts(s) == {"UP": 4, "DOWN": 0, "FLAT": 0}
    assert s.consensus["agreeing"] == 4  # the camp the votes form, not "0 agree DOWN"
    assert s.confidence == 0.0  # no combination weight backs any side
    line = consensus_line(s)
    assert line.startswith("HOLD (no_edge): members vote 4 UP / 0 DOWN at h12 (3 of 4 needed")
    assert "no horizon has an edge out of fold" in line
    assert "confidence 0.00 (no combination weight backs either side)" in line


def test_a_below_cost_hold_leans_with_the_weight_behind_its_side() -> None:
    s = signal_of((0.02, 0.01, 0.03, -0.01), with_edge(entry=0.5))
    assert (s.action, s.reason) == ("HOLD", "below_cost")
    assert s.confidence == pytest.approx(0.75)  # three of four equal weights vote UP
    line = consensus_line(s)
    assert "members vote 3 UP / 1 DOWN" in line and "inside the entry band ±0.50000" in line
    assert "confidence 0.75 (share of combination weight on the UP side)" in line


def test_a_trade_names_its_side_and_the_votes() -> None:
    s = signal_of((-0.02, -0.01, -0.03, 0.01), with_edge(entry=0.001))
    assert (s.action, s.reason) == ("SELL", None)
    assert s.consensus["agreeing"] == 3 and s.confidence == pytest.approx(0.75)
    line = consensus_line(s)
    assert line.startswith("SELL: members vote 1 UP / 3 DOWN at h12")
    assert "on the DOWN side" in line


def test_no_consensus_says_how_many_vote_the_forecasts_side() -> None:
    s = signal_of((0.03, 0.02, -0.001, -0.001), with_edge(entry=0.001))
    assert (s.action, s.reason) == ("HOLD", "no_consensus")
    assert "only 2 member(s) vote UP" in consensus_line(s)

"""The verdict's error rates by simulation, small: no-edge series are rarely called an edge,
edges of known size are found, and the printed net is not inflated by the choice of rule.
(benchmarks/edge_power.py runs the same replications at full size.)"""

from __future__ import annotations

import numpy as np
import pytest

from ai_engine.evaluation.calibration import replicate
from ai_engine.evaluation.decision import Costs

LOW = Costs(fee=0.0002, slippage=0.0)  # 0.04 % round trip: the rules trade, nulls included
SPA_REPS = 300


@pytest.mark.parametrize("scenario", ["random_walk", "garch_t"])
def test_no_edge_series_are_rarely_called_an_edge(scenario: str) -> None:
    """At most 3 of 25 (the stated 5 % expects 1.25). It catches a verdict with no test at all
    (7 of 25 flagged with the SPA removed); it does not separate the SPA from a naive test of
    the best rule alone (2-3 of 25 here): the 400-replication tables in RESULTS.md do."""
    runs = [replicate(scenario, 0.0, LOW, 500 + i, spa_reps=SPA_REPS) for i in range(25)]
    assert sum(r.found for r in runs) <= 3


def test_a_persistent_drift_is_found_and_its_net_is_not_inflated() -> None:
    """One-bar R^2 0.01 at the default 0.30 % round trip: found in at least 9 of 12 series
    (the Bonferroni'd AND of two tests found 57 %); the nested net printed is on average
    not above what the served rule then earns on fresh bars by more than half."""
    runs = [replicate("drift", 0.01, Costs(), 700 + i, spa_reps=SPA_REPS) for i in range(12)]
    found = [r for r in runs if r.found]
    assert len(found) >= 9
    reported = np.mean([r.reported_net / r.reported_bars for r in found])
    realised = np.mean([r.realised_net / r.test_bars for r in found])
    assert reported > 0 and realised > 0.5 * reported


def test_the_verdict_p_value_accounts_for_choosing_among_the_rules() -> None:
    """A valid p-value is below 0.2 in at most 20 % of no-edge series (3 of 15 expected at
    most; every rule loses its costs here, so the SPA's is conservative: 0 of 15 seen, median
    0.82). The p-value of the chosen rule alone, without the correction for picking the best
    of 48, is below 0.2 in 6 of these 15 (median 0.31): the best of many looks good by luck."""
    p_values = [
        replicate("random_walk", 0.0, LOW, i, spa_reps=SPA_REPS, always_test=True).spa_p_value
        for i in range(15)
    ]
    assert sum(p < 0.2 for p in p_values) <= 3, p_values

"""Release evidence across versions: what older code wrote still loads and serves; the new
fields survive a round trip; the verdict line says which net it prints."""

from __future__ import annotations

from typing import Any

import numpy as np

from ai_engine.evaluation import Evidence
from ai_engine.evaluation.conformal import VolModel
from ai_engine.evaluation.evidence import edge_line

H = 12


def old_evaluation() -> dict[str, Any]:
    """``release.evaluation`` as written before issue 24 (no vol model, Clark-West verdict)."""
    return {
        "format": 1,
        "combination": "nnls",
        "weights": {"m0": [0.0] * H},
        "edge": {
            "enabled": False,
            "horizon": None,
            "method": "clark-west",
            "p_value": 0.21,
            "oos_r2": -0.001,
            "net_return": 0.0,
            "alpha": 0.05,
            "costs": {"fee": 0.001, "slippage": 0.0005, "round_trip": 0.003},
            "per_horizon": [],
        },
        "decision": None,
        "costs": {"fee": 0.001, "slippage": 0.0005, "round_trip": 0.003},
        "intervals": {
            "method": "split conformal, scores normalised by local volatility",
            "coverage": 0.8,
            "vol_window": 48,
            "quantiles": [1.3] * H,
        },
        "input_gate": {
            "method": "rms",
            "mean": [0.0],
            "scale": [1.0],
            "threshold": 3.0,
            "quantile": 0.999,
        },
    }


def test_an_old_release_loads_and_serves_intervals_from_the_rms_scale() -> None:
    evidence = Evidence.from_json(old_evaluation())
    assert evidence.vol_model is None and evidence.recent_window == 0
    windows = np.full((1, 96, 1), 0.001)
    lower, upper = evidence.bounds(np.zeros((1, H)), windows)
    assert np.allclose(upper[0], 1.3 * 0.001 * np.sqrt(np.arange(1, H + 1)))
    assert np.allclose(lower, -upper)
    line = edge_line(evidence.edge)
    assert line.startswith("no edge at any horizon out of fold (best p=0.21")


def test_the_vol_model_survives_a_round_trip_and_sets_the_scale() -> None:
    data = old_evaluation()
    data["intervals"]["vol_model"] = VolModel(2e-7, 0.08, 0.9).to_json()
    evidence = Evidence.from_json(data)
    assert evidence.vol_model == VolModel(2e-7, 0.08, 0.9)
    assert Evidence.from_json(evidence.to_json()).vol_model == evidence.vol_model
    calm, storm = np.full((1, 96, 1), 0.0005), np.full((1, 96, 1), 0.004)
    width = [np.diff(evidence.bounds(np.zeros((1, H)), w), axis=0)[0, 0] for w in (calm, storm)]
    long_run = np.sqrt(VolModel(2e-7, 0.08, 0.9).long_run)
    assert width[0][-1] / width[0][0] > np.sqrt(H)  # calm: volatility expected to rise
    assert width[1][-1] / width[1][0] < np.sqrt(H)  # storm: expected to fall back
    assert 0.001 < long_run < 0.01


def test_the_verdict_line_says_the_net_is_on_bars_the_choice_did_not_see() -> None:
    edge = {
        "enabled": True,
        "horizon": 2,
        "method": "spa",
        "p_value": 0.003,
        "oos_r2": 0.02,
        "net_return": 0.0041,
        "net_bars": 2000,
        "costs": {"round_trip": 0.003},
        "break_even": {"horizon": 2, "round_trip": 0.0064},
    }
    line = edge_line(edge)
    assert "SPA p=0.003" in line and "+0.41% on 2,000 bars the choice did not see" in line
    assert line.endswith("at a round trip <= 0.64%")
    held = edge_line({**edge, "enabled": False, "p_value": 0.3, "rules_tested": 48})
    assert held.startswith("no edge after 0.30% round trip (SPA p=0.3 over 48 rules); h=2")

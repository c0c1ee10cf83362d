"""Ensemble rules: quorum, renormalisation over healthy members, dead band, ConsensusError."""

from __future__ import annotations

import numpy as np
import pytest

from ai_engine.ensemble import (
    EnsembleSettings,
    MemberForecast,
    combine,
    weights_from_validation_error,
)
from ai_engine.errors import ConfigError, ConsensusError

FAMILIES = ("xgboost", "lightgbm", "nhits", "patchtst")


def members(*finals: float | None) -> list[MemberForecast]:
    """One member per family, forecast ramping linearly to ``final`` (None: unhealthy)."""
    return [
        MemberForecast(
            f,
            "v1",
            None if v is None else np.linspace(v / 12, v, 12),
            None if v is not None else "BundleError: broken",
        )
        for f, v in zip(FAMILIES, finals, strict=True)
    ]


def signal(*finals: float | None, **settings: object):  # type: ignore[no-untyped-def]
    return combine(
        members(*finals),
        EnsembleSettings(**settings),  # type: ignore[arg-type]
        symbol="X",
        timeframe="5m",
        as_of="t",
        release="r1",
    )


def test_three_agreeing_members_give_buy_with_weighted_forecast() -> None:
    s = signal(0.01, 0.02, 0.01, -0.01)
    assert s.action == "BUY"
    assert s.expected_return == pytest.approx(0.3 * 0.01 + 0.3 * 0.02 + 0.2 * 0.01 - 0.2 * 0.01)
    assert s.consensus == {"required": 3, "agreeing": 3, "healthy": 4}
    assert s.confidence == pytest.approx(0.8)
    assert [m.vote for m in s.members] == ["UP", "UP", "UP", "DOWN"]


def test_two_against_two_is_hold() -> None:
    s = signal(0.01, 0.01, -0.01, -0.01)
    assert s.action == "HOLD" and s.consensus["agreeing"] == 2


def test_sell_needs_the_weighted_forecast_beyond_the_dead_band() -> None:
    assert signal(-0.01, -0.01, -0.01, 0.02).action == "SELL"
    # three DOWN votes but the heavy UP member pulls the weighted forecast inside the band
    assert (
        signal(
            -0.002,
            -0.0015,
            -0.002,
            0.02,
            weights={"xgboost": 0.1, "lightgbm": 0.1, "nhits": 0.1, "patchtst": 0.7},
        ).action
        == "HOLD"
    )


def test_dead_band_turns_small_forecasts_into_flat_votes() -> None:
    s = signal(0.0009, 0.0009, 0.0009, 0.0009)
    assert s.action == "HOLD" and {m.vote for m in s.members} == {"FLAT"}
    assert signal(0.0009, 0.0009, 0.0009, 0.0009, dead_band=0.0005).action == "BUY"


def test_weights_renormalise_over_healthy_members() -> None:
    s = signal(0.01, None, 0.01, 0.01)
    weights = {m.family: m.weight for m in s.members}
    assert weights == pytest.approx(
        {"xgboost": 3 / 7, "lightgbm": 0.0, "nhits": 2 / 7, "patchtst": 2 / 7}
    )
    assert s.expected_return == pytest.approx(0.01)
    assert s.action == "BUY" and s.consensus["healthy"] == 3
    broken = next(m for m in s.members if m.family == "lightgbm")
    assert not broken.healthy and broken.reason == "BundleError: broken" and broken.vote is None


def test_below_quorum_is_a_refusal_not_a_hold() -> None:
    with pytest.raises(ConsensusError, match="2 of 4 models healthy, the quorum needs 3.*broken"):
        signal(0.01, None, None, 0.01)
    assert signal(0.01, None, None, 0.01, min_consensus=2).action == "BUY"


def test_decision_horizon_picks_the_step() -> None:
    s = signal(0.012, 0.012, 0.012, 0.012, decision_horizon=1)
    assert s.horizon == 1 and s.expected_return == pytest.approx(0.001) and s.action == "HOLD"


def test_validation_weights_are_inverse_error() -> None:
    weights = weights_from_validation_error({"a": 1.0, "b": 2.0, "c": 4.0, "d": 4.0})
    assert weights == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.125, "d": 0.125})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_consensus": 5}, "min_consensus must be between 1 and 4"),
        ({"weights": {"a": -1.0}, "min_consensus": 1}, "finite and >= 0"),
        ({"dead_band": float("nan")}, "dead_band"),
        ({"decision_horizon": 0}, "decision_horizon"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EnsembleSettings(**settings)


@pytest.mark.parametrize(
    ("finals", "weights", "confidence"),
    [
        ((0.01, 0.01, -0.01, -0.01), None, 0.6),  # leans UP (+0.002): UP holds 0.6 of the weight
        ((0.0005, -0.0005, 0.0, 0.0009), None, 0.0),  # every vote FLAT: nothing backs a side
        ((-0.002, -0.0015, -0.002, 0.02), {"xgboost": 0.1, "lightgbm": 0.1, "nhits": 0.1}, 0.7),
    ],
)
def test_hold_confidence_is_the_weight_behind_the_side_it_leans_to(
    finals: tuple[float, ...], weights: dict[str, float] | None, confidence: float
) -> None:
    settings = {} if weights is None else {"weights": {**weights, "patchtst": 0.7}}
    s = signal(*finals, **settings)
    assert s.action == "HOLD" and s.confidence == pytest.approx(confidence)


def test_unknown_ensemble_keys_are_config_errors_naming_them() -> None:
    settings = EnsembleSettings(min_consensus=2, dead_band=0.002)
    assert EnsembleSettings.from_json(settings.to_json()) == settings
    with pytest.raises(ConfigError, match=r"unknown ensemble setting\(s\) \['quorum'\]; expected"):
        EnsembleSettings.from_json({**settings.to_json(), "quorum": 3})
    with pytest.raises(ConfigError, match=r"\['deadband', 'horizon'\]"):
        EnsembleSettings.from_json({"deadband": 0.1, "horizon": 3})

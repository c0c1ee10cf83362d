"""Engine.load: a broken member is unhealthy with its reason, the others serve, quorum decides."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ai_engine.engine import Engine
from ai_engine.errors import ConsensusError
from ai_engine.features import SPEC_V1, FeatureSpec, latest_inputs
from ai_engine.registry import Registry
from trained import (
    WEIGHTS,
    bundle_of,
    candles,
    edit_manifest,
    refresh_checksum,
    repin,
    tiny_registry,
)

Fault = Callable[[Registry, str], None]


def flip_byte(registry: Registry, family: str) -> None:
    path = bundle_of(registry, family) / WEIGHTS[family]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(registry: Registry, family: str) -> None:
    path = bundle_of(registry, family) / WEIGHTS[family]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def delete_scaler(registry: Registry, family: str) -> None:
    (bundle_of(registry, family) / "scaler.json").unlink()


def drop_pickle(registry: Registry, family: str) -> None:
    (bundle_of(registry, family) / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))


def change_config(registry: Registry, family: str) -> None:
    changes = {
        "nhits": {"mlp_units": [64, 64]},
        "patchtst": {"n_layers": 2},
        "xgboost": {"n_features": 20},
        "lightgbm": {"n_features": 20},
    }[family]
    edit_manifest(bundle_of(registry, family), lambda m: m["config"].update(changes))
    repin(registry)


def other_features(registry: Registry, family: str) -> None:
    older = FeatureSpec(**{**SPEC_V1.__dict__, "names": ("log_return_0", *SPEC_V1.names[1:])})
    edit_manifest(
        bundle_of(registry, family),
        lambda m: m.update(feature_spec=older.to_json(), feature_fingerprint=older.fingerprint()),
    )
    repin(registry)


def future_format(registry: Registry, family: str) -> None:
    edit_manifest(bundle_of(registry, family), lambda m: m.update(format_version=2))
    repin(registry)


def probe_drift(registry: Registry, family: str) -> None:
    folder = bundle_of(registry, family)
    probe = json.loads((folder / "probe.json").read_text())
    probe["output"] = (np.asarray(probe["output"]) + 1e-3).tolist()
    (folder / "probe.json").write_text(json.dumps(probe))
    refresh_checksum(folder, "probe.json")
    repin(registry)


def manifest_changed_after_release(registry: Registry, family: str) -> None:
    edit_manifest(bundle_of(registry, family), lambda m: m["metrics"].update(mae=0.0))


def deleted_bundle(registry: Registry, family: str) -> None:
    folder = bundle_of(registry, family)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


FAULTS: list[tuple[Fault, str, str]] = [
    (flip_byte, "xgboost", "ChecksumError: "),
    (flip_byte, "patchtst", "ChecksumError: "),
    (truncate, "lightgbm", "ChecksumError: "),
    (delete_scaler, "nhits", "BundleError: {path}: scaler.json missing"),
    (
        drop_pickle,
        "xgboost",
        "ChecksumError: {path}: files not listed in manifest.json: ['model.pkl']",
    ),
    (change_config, "nhits", "WeightsMismatchError: {path}: weights"),
    (change_config, "patchtst", "WeightsMismatchError: {path}: weights"),
    (change_config, "xgboost", "WeightsMismatchError: {path}: xgboost weights expect"),
    (other_features, "lightgbm", "FeatureSpecMismatchError: {path}: feature fingerprint"),
    (future_format, "patchtst", "ManifestError: {path}: format_version 2 is not supported"),
    (probe_drift, "nhits", "ProbeMismatchError: {path}: probe replay differs"),
    (
        manifest_changed_after_release,
        "lightgbm",
        "BundleError: {path}: manifest.json sha256 expected",
    ),
    (deleted_bundle, "patchtst", "BundleError: {path}: expected a bundle folder, found nothing"),
]


@pytest.mark.parametrize(
    ("fault", "family", "reason"), FAULTS, ids=[f"{f.__name__}-{fam}" for f, fam, _ in FAULTS]
)
def test_one_broken_member_is_unhealthy_and_three_still_signal(
    fault: Fault, family: str, reason: str, tmp_path: Path
) -> None:
    registry = tiny_registry(tmp_path / "registry")
    path = bundle_of(registry, family)
    fault(registry, family)
    engine = Engine.load(registry)
    broken = [m for m in engine.members if not m.healthy]
    assert [m.family for m in broken] == [family]
    assert broken[0].reason is not None and broken[0].reason.startswith(reason.format(path=path))
    assert "\n" not in broken[0].reason
    signal = engine.signal(candles())
    assert signal.consensus["healthy"] == 3 and signal.consensus["required"] == 3
    member = next(m for m in signal.members if m.family == family)
    assert not member.healthy and member.weight == 0 and member.forecast is None
    assert member.reason == broken[0].reason
    assert engine.evidence is not None
    step = signal.horizon - 1
    for healthy in (m for m in signal.members if m.healthy):  # no renormalisation
        assert healthy.weight == pytest.approx(engine.evidence.weights[healthy.family][step])


def test_two_broken_members_refuse_to_signal(tmp_path: Path) -> None:
    registry = tiny_registry(tmp_path / "registry")
    delete_scaler(registry, "xgboost")
    flip_byte(registry, "patchtst")
    engine = Engine.load(registry)
    assert engine.healthy_count == 2
    with pytest.raises(ConsensusError) as exc:
        engine.signal(candles())
    message = str(exc.value)
    assert "2 of 4 models healthy, the quorum needs 3" in message
    assert "xgboost: BundleError:" in message and "scaler.json missing" in message
    assert "patchtst: ChecksumError:" in message


def test_a_probe_that_the_running_library_computes_differently_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library upgrade that changes numerics: the weights are intact, the probe is not met."""
    from ai_engine.models.xgboost import XGBoostForecaster

    registry = tiny_registry(tmp_path / "registry")
    original = XGBoostForecaster._predict
    monkeypatch.setattr(XGBoostForecaster, "_predict", lambda self, x: original(self, x) * 1.01)
    engine = Engine.load(registry)
    assert [m.family for m in engine.members if not m.healthy] == ["xgboost"]
    assert "ProbeMismatchError" in str(engine.members[0].reason)


def test_a_row_whose_forecast_is_not_finite_is_unhealthy(tmp_path: Path) -> None:
    """In a batch, a member's row whose forecast is not finite (from a NaN input) is unhealthy
    with the reason and no forecast; every row it answers with finite numbers equals the row
    asked alone. (ONNX Runtime's N-HiTS lets a NaN row spoil its neighbour's output too: that
    row is then refused as well, never served; validated candles never give NaN inputs.)"""
    engine = Engine.load(tiny_registry(tmp_path / "registry"))
    good = latest_inputs(candles().frame, engine.spec)
    bad = dataclasses.replace(good, sequence=np.full_like(good.sequence, np.nan))
    rows = engine.forecasts_many([good, bad, good])
    alone = {m.family: m for m in engine.forecasts_many([good])[0]}
    for k, row in enumerate(rows):
        for member in row:
            if member.forecast is None:
                assert member.reason == "forecast is not finite" and not member.healthy
                continue
            assert k != 1 or member.family in ("xgboost", "lightgbm")  # trees read no sequence
            expected = alone[member.family].forecast
            assert expected is not None and np.isfinite(member.forecast).all()
            np.testing.assert_allclose(member.forecast, expected, rtol=1e-5)
    assert all(not m.healthy for m in rows[1] if m.family in ("nhits", "patchtst"))
    assert all(m.healthy for m in rows[2])

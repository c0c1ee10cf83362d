"""inspect and import-legacy: safe reading, inference with sources, strict conversion to bundles."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import torch
import xgboost as xgb
from typer.testing import CliRunner

from ai_engine.bundle import load_bundle
from ai_engine.cli import app
from ai_engine.doctor import diagnose
from ai_engine.errors import FeatureSpecMismatchError, LegacyImportError
from ai_engine.legacy_import import import_legacy, inspect_checkpoint, load_imported
from ai_engine.registry import Registry
from legacy_objects import Payload, StandardScaler, old_nhits, old_patchtst, run

runner = CliRunner()


def save_checkpoint(path: Path, module: torch.nn.Module, **hyperparameters: object) -> Path:
    if hyperparameters:
        torch.save({"model_state_dict": module.state_dict(), "epoch": 7, **hyperparameters}, path)
    else:
        torch.save(module.state_dict(), path)
    return path


def findings(inspection: object) -> dict[str, tuple[object, str]]:
    return {f.name: (f.value, f.source) for f in inspection.findings}  # type: ignore[attr-defined]


# ---- inspect -------------------------------------------------------------------------------


def test_inspect_infers_legacy_nhits_and_says_from_where(tmp_path: Path) -> None:
    old = old_nhits()
    path = save_checkpoint(
        tmp_path / "nhits.pt", old, input_dim=24, hidden_dim=16, output_dim=12, n_blocks=3
    )
    inspection = inspect_checkpoint(path)
    assert inspection.family == "legacy-nhits"
    assert inspection.layout.startswith("checkpoint dict: model_state_dict + hyperparameters")
    assert "other entries ['epoch']" in inspection.layout
    found = findings(inspection)
    assert found["n_blocks"] == (3, "3 distinct blocks.N. prefixes")
    assert found["input_dim"] == (24, "blocks.0.0.weight shape (16, 24) (columns)")
    assert found["hidden_dim"] == (16, "blocks.0.0.weight shape (16, 24) (rows)")
    assert found["output_dim"] == (12, "output_layer.weight shape (12, 48)")
    assert inspection.parameter_count == sum(p.numel() for p in old.parameters())
    assert inspection.contradictions == []
    assert inspection.strict_load.startswith("OK")


def test_inspect_names_stored_hyperparameters_that_contradict_the_weights(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "nhits.pt", old_nhits(), input_dim=24, hidden_dim=64, output_dim=12, n_blocks=2
    )
    contradictions = inspect_checkpoint(path).contradictions
    assert contradictions == [
        "hidden_dim: stored 64, weights say 16 (blocks.0.0.weight shape (16, 24) (rows))",
        "n_blocks: stored 2, weights say 3 (3 distinct blocks.N. prefixes)",
    ]


def test_inspect_a_bare_patchtst_states_what_the_weights_cannot_say(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "patchtst.pth", old_patchtst())
    inspection = inspect_checkpoint(path)
    assert inspection.family == "legacy-patchtst" and inspection.layout == "bare state_dict"
    found = findings(inspection)
    assert found["hidden_dim"][0] == 16 and found["patch_len"][0] == 8
    assert found["n_layers"] == (2, "2 distinct transformer.layers.N. prefixes")
    assert found["positions"][0] == 100 and found["output_dim"][0] == 12
    assert found["n_heads"] == (4, "stated default 4 (head count is not in the weights)")
    assert found["stride"][1].startswith("stated default patch_len // 2 = 4")
    assert found["lookback"][0] is None and "give --lookback" in str(found["lookback"][1])
    code_output = runner.invoke(app, ["inspect", str(path)], env={"COLUMNS": "250"}).output
    assert "architecture: legacy-patchtst" in code_output
    assert "  lookback = unknown  <- unknown" in code_output
    assert f"parameters: {inspection.parameter_count:,}" in code_output


def test_inspect_strips_a_dataparallel_prefix_and_checks_the_strict_load(tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in old_nhits().state_dict().items()}
    state["module.extra.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "dp.pt")
    inspection = inspect_checkpoint(tmp_path / "dp.pt")
    assert any("module." in note for note in inspection.notes)
    assert inspection.strict_load.startswith("FAILED")
    assert "unexpected keys ['extra.weight']" in inspection.strict_load


def test_inspect_refuses_an_unknown_architecture(tmp_path: Path) -> None:
    torch.save({"encoder.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(
        LegacyImportError,
        match=r"expected a legacy N-HiTS .* found keys "
        r"\['encoder.weight'\]",
    ):
        inspect_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("kind", ["raw-pickle.pt", "torch-zip.pt", "model.pkl"])
def test_a_malicious_pickle_given_to_inspect_never_runs(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / kind
    if kind == "torch-zip.pt":
        torch.save({"model_state_dict": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Payload(marker)))
    assert not marker.exists()
    with pytest.raises(LegacyImportError) as exc:
        inspect_checkpoint(path)
    message = str(exc.value)
    assert "refused" in message and "never unpickled" in message and "builtins.exec" in message
    result = runner.invoke(app, ["inspect", str(path)])
    assert isinstance(result.exception, LegacyImportError)
    with pytest.raises(LegacyImportError, match="without --trust-pickle|refused"):
        import_legacy(path, tmp_path / "registry", no_scaler=True)
    assert not marker.exists()


def test_the_inspect_command_refuses_a_malicious_file_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Payload(marker)))
    cli = Path(sys.executable).with_name("ai-engine")
    result = subprocess.run(
        [str(cli), "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "1000"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: LegacyImportError: {path}: refused")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()


# ---- import --------------------------------------------------------------------------------


def test_import_legacy_nhits_makes_a_bundle_that_computes_the_old_outputs(tmp_path: Path) -> None:
    old = old_nhits(seed=3)
    path = save_checkpoint(
        tmp_path / "nhits_v20240101_120000.pt",
        old,
        input_dim=24,
        hidden_dim=16,
        output_dim=12,
        n_blocks=3,
    )
    (tmp_path / "nhits_v20240101_120000_scaler.json").write_text(
        json.dumps({"mean": [0.5, -1.0, 2.0], "scale": [2.0, 0.5, 1.0]})
    )  # per channel of (8, 3) windows
    result = import_legacy(path, tmp_path / "registry")
    assert result.family == "legacy-nhits"
    assert result.path.parent.parent.name == "imported"
    assert "repeated 8x" in result.scaler
    assert sorted(p.name for p in result.path.iterdir()) == [
        "manifest.json",
        "probe.json",
        "scaler.json",
        "weights.safetensors",
    ]

    loaded = load_imported(result.path)
    manifest = loaded.manifest
    assert manifest.family == "legacy-nhits" and manifest.feature_spec["version"] == "legacy-raw"
    assert manifest.feature_spec["names"][:2] == ["raw_0", "raw_1"]
    assert manifest.config["hidden_dim"] == 16 and manifest.config["n_blocks"] == 3
    assert len(manifest.training["source_sha256"]) == 64
    windows = np.random.default_rng(2).normal(size=(5, 8, 3))
    scaled = (windows - [0.5, -1.0, 2.0]) / [2.0, 0.5, 1.0]
    np.testing.assert_allclose(
        loaded.model.predict(windows.reshape(5, 24)), run(old, scaled), rtol=1e-5, atol=1e-6
    )

    with pytest.raises(FeatureSpecMismatchError, match="spec legacy-raw"):
        load_bundle(result.path)  # never servable as an engine member
    report = diagnose(tmp_path / "registry")
    assert [c.ok for c in report.imported] == [True] and report.unreleased == []
    assert Registry(tmp_path / "registry").gc(keep=0).removed_bundles == []
    assert result.path.is_dir()


def test_import_legacy_patchtst_needs_its_input_length(tmp_path: Path) -> None:
    old = old_patchtst(seed=4)
    path = save_checkpoint(
        tmp_path / "patchtst.pt",
        old,
        hidden_dim=16,
        output_dim=12,
        n_heads=4,
        n_layers=2,
        patch_len=8,
        stride=4,
        input_dim=1,
    )
    with pytest.raises(LegacyImportError, match=r"needs its input length.*; give --lookback N"):
        import_legacy(path, tmp_path / "registry", no_scaler=True)
    code = runner.invoke(
        app,
        [
            "import-legacy",
            str(path),
            "--registry",
            str(tmp_path / "registry"),
            "--no-scaler",
            "--lookback",
            "40",
        ],
        env={"COLUMNS": "250"},
    )
    assert code.exit_code == 0, code.output
    bundle = next((tmp_path / "registry" / "bundles" / "imported" / "legacy-patchtst").iterdir())
    loaded = load_imported(bundle)
    assert loaded.manifest.config["lookback"] == 40 and loaded.manifest.config["stride"] == 4
    assert loaded.manifest.training["scaler"].startswith("none (--no-scaler")
    x = np.random.default_rng(5).normal(size=(4, 40))
    np.testing.assert_allclose(loaded.model.predict(x), run(old, x), rtol=1e-5, atol=1e-6)


def test_import_without_a_scaler_names_the_files_looked_for(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "nhits_v20240101_120000.pt", old_nhits())
    with pytest.raises(LegacyImportError) as exc:
        import_legacy(path, tmp_path / "registry")
    message = str(exc.value)
    for name in (
        "nhits_v20240101_120000_scaler.json",
        "scaler_v20240101_120000.pkl",
        "scaler.pkl",
        "scaler.json",
    ):
        assert name in message
    assert "--scaler FILE" in message and "--no-scaler" in message
    assert not (tmp_path / "registry" / "bundles").exists()


def test_import_refuses_a_model_with_constant_outputs(tmp_path: Path) -> None:
    old = old_nhits()
    with torch.no_grad():
        for name, parameter in old.named_parameters():
            if name.endswith("weight"):
                parameter.zero_()
    path = save_checkpoint(tmp_path / "dead.pt", old)
    with pytest.raises(LegacyImportError, match="8 different inputs gave one constant output"):
        import_legacy(path, tmp_path / "registry", no_scaler=True)


def test_import_refuses_weights_that_do_not_fit_their_own_architecture(tmp_path: Path) -> None:
    state = old_nhits().state_dict()
    state["output_layer.weight"] = torch.zeros(12, 40)
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(
        LegacyImportError,
        match=r"strict load failed: .*output_layer.weight: "
        r"expected \(12, 48\), found \(12, 40\)",
    ):
        import_legacy(tmp_path / "broken.pt", tmp_path / "registry", no_scaler=True)


# ---- pickled tree models -------------------------------------------------------------------


def _xy(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, n_features))
    return x, x[:, 0] * 2 + rng.normal(scale=0.1, size=200)


def test_a_pickled_xgboost_model_needs_trust_and_its_scaler(tmp_path: Path) -> None:
    x, y = _xy(5)
    booster = xgb.train(
        {"max_depth": 2, "nthread": 1},
        xgb.DMatrix(x, label=y, feature_names=[f"f{i}" for i in range(5)]),
        num_boost_round=5,
    )
    path = tmp_path / "xgb_model_v20240101_120000.pkl"
    path.write_bytes(pickle.dumps(booster))
    registry = tmp_path / "registry"
    with pytest.raises(LegacyImportError, match="refusing to unpickle it without --trust-pickle"):
        import_legacy(path, registry)
    with pytest.raises(
        LegacyImportError,
        match=r"no scaler found; looked for .*"
        r"'scaler_v20240101_120000.pkl'",
    ):
        import_legacy(path, registry, trust_pickle=True)
    scaler = tmp_path / "scaler_v20240101_120000.pkl"
    scaler.write_bytes(pickle.dumps(StandardScaler([1.0] * 5, [2.0] * 5)))
    result = import_legacy(path, registry, trust_pickle=True)
    assert result.family == "xgboost" and "scaler_v20240101_120000.pkl" in result.scaler
    assert sorted(p.name for p in result.path.iterdir()) == [
        "manifest.json",
        "model.ubj",
        "probe.json",
        "scaler.json",
    ]
    loaded = load_imported(result.path)
    assert loaded.manifest.feature_spec["names"] == [f"f{i}" for i in range(5)]
    expected = booster.inplace_predict((x[:7] - 1.0) / 2.0)
    np.testing.assert_allclose(loaded.model.predict(x[:7])[:, 0], expected, rtol=1e-6)


def test_a_pickled_lightgbm_model_becomes_native_text(tmp_path: Path) -> None:
    x, y = _xy(4)
    booster = lgb.train(
        {"verbosity": -1, "num_threads": 1, "min_data_in_leaf": 5},
        lgb.Dataset(x, label=y),
        num_boost_round=5,
    )
    path = tmp_path / "lgbm.pkl"
    path.write_bytes(pickle.dumps(booster))
    result = runner.invoke(
        app,
        [
            "import-legacy",
            str(path),
            "--registry",
            str(tmp_path / "registry"),
            "--trust-pickle",
            "--scaler",
            str(_scaler_json(tmp_path, 4)),
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    bundle = next((tmp_path / "registry" / "bundles" / "imported" / "lightgbm").iterdir())
    assert (bundle / "model_h01.txt").is_file() and not list(bundle.glob("*.pkl"))
    loaded = load_imported(bundle)
    assert loaded.model.horizon == 1
    np.testing.assert_allclose(loaded.model.predict(x[:5])[:, 0], booster.predict(x[:5]), rtol=1e-6)


def _scaler_json(folder: Path, width: int) -> Path:
    path = folder / "given_scaler.json"
    path.write_text(
        json.dumps(
            {"kind": "standard", "mean": [0.0] * width, "scale": [1.0] * width, "target_scale": 1.0}
        )
    )
    return path

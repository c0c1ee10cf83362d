"""Every load check refuses its fault with a typed, one-line error that names the bundle path."""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from ai_engine.bundle import (
    SUPPORTED_FORMAT_VERSIONS,
    BundleInfo,
    Manifest,
    load_bundle,
    save_bundle,
)
from ai_engine.errors import (
    BundleError,
    ChecksumError,
    FeatureSpecMismatchError,
    ManifestError,
    ProbeMismatchError,
    WeightsMismatchError,
)
from ai_engine.features import SPEC_V1, FeatureSpec
from ai_engine.registry import Registry
from legacy_objects import Payload
from trained import WEIGHTS, bundle_of, edit_manifest, refresh_checksum, tiny_registry

FAMILIES = ("xgboost", "lightgbm", "nhits", "patchtst")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Read-only use: tests that break a bundle work on ``bundle`` copies."""
    return tiny_registry(tmp_path_factory.mktemp("bundles") / "registry")


def copy_of(registry: Registry, family: str, dest: Path) -> Path:
    folder = dest / family
    shutil.copytree(bundle_of(registry, family), folder)
    return folder


def one_line(exc: pytest.ExceptionInfo[BaseException], folder: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{folder}: "), message
    return message


@pytest.mark.parametrize("family", FAMILIES)
def test_an_intact_bundle_loads_and_replays_its_probe(registry: Registry, family: str) -> None:
    loaded = load_bundle(bundle_of(registry, family))
    assert loaded.manifest.family == family and loaded.model.scaler_ is not None
    probe = json.loads((loaded.path / "probe.json").read_text())
    expected = np.asarray(probe["output"])  # the probe's rule: 1e-5 relative to its largest value
    np.testing.assert_allclose(
        loaded.model.predict(np.asarray(probe["input"])),
        expected,
        rtol=1e-5,
        atol=1e-5 * np.abs(expected).max(),
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_a_flipped_byte_in_the_weights_is_a_checksum_error(
    registry: Registry, family: str, tmp_path: Path
) -> None:
    folder = copy_of(registry, family, tmp_path)
    weights = folder / WEIGHTS[family]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as exc:
        load_bundle(folder)
    message = one_line(exc, folder)
    assert f"{WEIGHTS[family]} sha256 expected" in message and "found" in message


@pytest.mark.parametrize(
    ("family", "name"),
    [("xgboost", "model.ubj"), ("patchtst", "weights.safetensors"), ("nhits", "probe.json")],
)
def test_a_truncated_file_is_a_checksum_error(
    registry: Registry, family: str, name: str, tmp_path: Path
) -> None:
    folder = copy_of(registry, family, tmp_path)
    path = folder / name
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ChecksumError) as exc:
        load_bundle(folder)
    assert f"{name} sha256 expected" in one_line(exc, folder)
    assert "(100 bytes)" in str(exc.value) and "changed or truncated" in str(exc.value)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_deleted_scaler_is_exactly_scaler_json_missing(
    registry: Registry, family: str, tmp_path: Path
) -> None:
    folder = copy_of(registry, family, tmp_path)
    (folder / "scaler.json").unlink()
    with pytest.raises(BundleError) as exc:
        load_bundle(folder)
    assert type(exc.value) is BundleError
    assert (
        f"{type(exc.value).__name__}: {exc.value}" == f"BundleError: {folder}: scaler.json missing"
    )


def test_a_scaler_of_the_wrong_width_is_refused(registry: Registry, tmp_path: Path) -> None:
    folder = copy_of(registry, "xgboost", tmp_path)
    scaler = json.loads((folder / "scaler.json").read_text())
    scaler["mean"], scaler["scale"] = scaler["mean"][:-1], scaler["scale"][:-1]
    (folder / "scaler.json").write_text(json.dumps(scaler))
    refresh_checksum(folder, "scaler.json")
    with pytest.raises(
        BundleError, match="scaler.json has width 21, the model's inputs have width 22"
    ):
        load_bundle(folder)


@pytest.mark.parametrize(
    ("family", "change", "expected"),
    [
        (
            "nhits",
            {"mlp_units": [48, 48]},
            [
                "missing keys []",
                "unexpected keys []",
                "blocks.0.mlp.0.weight: expected (48, 48), found (32, 48)",
                "'mlp_units': [48, 48]",
            ],
        ),
        (
            "nhits",
            {"n_stacks": 2, "pool_kernel_sizes": [2, 2], "n_freq_downsample": [4, 2]},
            ["missing keys []", "unexpected keys ['blocks.2.mlp.0.bias'", "'n_stacks': 2"],
        ),
        (
            "patchtst",
            {"n_layers": 2},
            ["missing keys ['layers.1.attention.out.bias'", "unexpected keys []", "'n_layers': 2"],
        ),
        (
            "patchtst",
            {"d_model": 32, "n_heads": 2},
            ["embed.weight: expected (32, 16), found (16, 16)", "'d_model': 32"],
        ),
        (
            "xgboost",
            {"n_features": 21},
            ["expect (features, outputs) = (21, 12) from config", "found (22, 12)"],
        ),
        ("lightgbm", {"n_features": 21}, ["model_h01.txt expects 22 features", "n_features=21"]),
    ],
)
def test_a_config_that_no_longer_matches_the_weights_names_keys_shapes_and_config(
    registry: Registry,
    family: str,
    change: dict[str, object],
    expected: list[str],
    tmp_path: Path,
) -> None:
    folder = copy_of(registry, family, tmp_path)
    edit_manifest(folder, lambda m: m["config"].update(change))
    with pytest.raises(WeightsMismatchError) as exc:
        load_bundle(folder)
    message = one_line(exc, folder)
    for part in expected:
        assert part in message, (part, message)


def test_another_feature_fingerprint_names_both_fingerprints_and_the_features(
    registry: Registry, tmp_path: Path
) -> None:
    folder = copy_of(registry, "lightgbm", tmp_path)
    names = tuple("rsi_21" if n == "rsi_14" else n for n in SPEC_V1.names)
    running = dataclasses.replace(SPEC_V1, names=names, params=(*SPEC_V1.params, ("rsi", 21)))
    with pytest.raises(FeatureSpecMismatchError) as exc:
        load_bundle(folder, running)
    message = one_line(exc, folder)
    assert SPEC_V1.fingerprint() in message and running.fingerprint() in message
    assert "rsi_21!=rsi_14" in message


def test_a_bundle_trained_with_other_features_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    folder = copy_of(registry, "nhits", tmp_path)
    older = FeatureSpec(
        **{**SPEC_V1.__dict__, "version": "v0", "names": (*SPEC_V1.names[:-1], "distance_sma_100")}
    )
    edit_manifest(
        folder,
        lambda m: m.update(feature_spec=older.to_json(), feature_fingerprint=older.fingerprint()),
    )
    with pytest.raises(FeatureSpecMismatchError) as exc:
        load_bundle(folder)
    message = one_line(exc, folder)
    assert f"feature fingerprint {older.fingerprint()} (spec v0)" in message
    assert f"running code's {SPEC_V1.fingerprint()} (spec v1)" in message
    assert "distance_sma_50!=distance_sma_100" in message


def test_a_pickle_dropped_into_a_bundle_is_refused_and_never_run(
    registry: Registry, tmp_path: Path
) -> None:
    folder = copy_of(registry, "xgboost", tmp_path)
    marker = tmp_path / "pwned"
    (folder / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ChecksumError) as exc:
        load_bundle(folder)
    message = one_line(exc, folder)
    assert "files not listed in manifest.json: ['model.pkl']" in message
    assert "never holds pickles" in message
    assert not marker.exists()


@pytest.mark.parametrize("found", [2, 0, "1", None])
def test_an_unknown_format_version_names_found_and_supported(
    registry: Registry, found: object, tmp_path: Path
) -> None:
    folder = copy_of(registry, "patchtst", tmp_path)
    edit_manifest(folder, lambda m: m.update(format_version=found))
    with pytest.raises(ManifestError) as exc:
        load_bundle(folder)
    assert (
        f"format_version {found!r} is not supported; supported versions: "
        f"{list(SUPPORTED_FORMAT_VERSIONS)}"
    ) in one_line(exc, folder)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.unlink(), "manifest.json missing"),
        (lambda p: p.write_text("{not json"), "manifest.json is not valid JSON"),
        (lambda p: p.write_text("[1]"), "manifest.json must hold an object, found list"),
        (
            lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "extra": 1})),
            "does not match the schema: extra: Extra inputs are not permitted",
        ),
        (
            lambda p: p.write_text(
                json.dumps({**json.loads(p.read_text()), "files": {"../x": "0" * 64}})
            ),
            "plain names inside the bundle",
        ),
    ],
)
def test_a_broken_manifest_is_a_manifest_error(
    registry: Registry, damage: object, expected: str, tmp_path: Path
) -> None:
    folder = copy_of(registry, "xgboost", tmp_path)
    damage(folder / "manifest.json")  # type: ignore[operator]
    with pytest.raises(ManifestError) as exc:
        load_bundle(folder)
    assert expected in one_line(exc, folder)


def test_a_probe_that_does_not_replay_is_refused(registry: Registry, tmp_path: Path) -> None:
    folder = copy_of(registry, "nhits", tmp_path)
    probe = json.loads((folder / "probe.json").read_text())
    probe["output"] = (np.asarray(probe["output"]) * 1.001).tolist()
    (folder / "probe.json").write_text(json.dumps(probe))
    refresh_checksum(folder, "probe.json")
    with pytest.raises(ProbeMismatchError) as exc:
        load_bundle(folder)
    message = one_line(exc, folder)
    assert "probe replay differs by" in message and "tolerance 1e-05 relative" in message


def test_a_model_with_constant_outputs_is_refused(registry: Registry, tmp_path: Path) -> None:
    import torch

    loaded = load_bundle(bundle_of(registry, "nhits"))
    model = loaded.model
    with torch.no_grad():
        for name, parameter in model.network_.named_parameters():  # type: ignore[attr-defined]
            if name.endswith("weight"):
                parameter.zero_()
    probe = np.asarray(json.loads((loaded.path / "probe.json").read_text())["input"])
    folder = tmp_path / "constant"
    save_bundle(
        model, folder, BundleInfo("v1", "TEST-5m", "2025-01-01T00:00:00+00:00", {}, {}), probe
    )
    with pytest.raises(ProbeMismatchError) as exc:
        load_bundle(folder)
    assert "8 different probe inputs gave one constant output" in one_line(exc, folder)


def test_the_documented_schema_is_the_manifest_model() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "bundle-format.md").read_text()
    block = doc.split("<!-- manifest-schema:start -->")[1].split("<!-- manifest-schema:end -->")[0]
    schema = json.loads(block.strip().removeprefix("```json").removesuffix("```"))
    assert schema == Manifest.model_json_schema()

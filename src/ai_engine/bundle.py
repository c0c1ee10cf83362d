"""One trained model as a self-describing, checksummed bundle folder: save, load, verify.

A bundle holds ``manifest.json`` (written last), the family's native weights, ``scaler.json``,
``probe.json`` and, for the PyTorch families, ``model.onnx`` (the network exported for ONNX
Runtime; listed with its sha256 like every other file). Loading follows a fixed order and stops
at the first failure with a typed, one-line error that starts with the bundle path:

1. manifest parses and validates (``ManifestError``)
2. every listed file exists and its sha256 matches; no unlisted file (``ChecksumError``,
   ``BundleError`` for a missing scaler)
3. the family's config builds the architecture, and the manifest lists exactly the weight files
   the family's descriptor declares for it (``BundleError``)
4. weights load strictly (``WeightsMismatchError``)
5. the scaler parses and fits the input width (``BundleError``)
6. the feature fingerprint equals the running code's (``FeatureSpecMismatchError``)
7. the probe replays within tolerance and varied inputs give varied outputs (``ProbeMismatchError``)
8. never fails the load: a family with an ONNX export serves small batches through ONNX Runtime
   when ``model.onnx`` matches the eager network on the probe, else eager with the reason
   (``model.inference``)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from ai_engine.errors import (
    AIEngineError,
    BundleError,
    ChecksumError,
    ConfigError,
    ManifestError,
    ProbeMismatchError,
)
from ai_engine.features import CURRENT_SPEC, FeatureSpec
from ai_engine.models.base import Forecaster, Scaler, build, descriptor
from ai_engine.models.onnx_runtime import ONNX_FILE

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST = "manifest.json"
SCALER = "scaler.json"
PROBE = "probe.json"
PROBE_RTOL = 1e-5
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt")
_LIBRARIES = ("numpy", "ta-lib", "pandas")
"""Recorded for every bundle; each family's descriptor adds its own (``libraries``)."""
log = logging.getLogger(__name__)


class Manifest(BaseModel):
    """Schema of manifest.json (format_version 1); unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int
    family: str
    version: str
    model_set: str
    created_at: str
    config: dict[str, Any]
    feature_spec: dict[str, Any]
    feature_fingerprint: str
    input_kind: Literal["tabular", "sequence"]
    input_shape: list[int]
    output_shape: list[int]
    horizon: int
    scaler_file: str
    probe_file: str
    weights_files: list[str]
    training: dict[str, Any]
    metrics: dict[str, Any]
    libraries: dict[str, str]
    files: dict[str, str]

    @field_validator("files")
    @classmethod
    def _plain_file_names(cls, files: dict[str, str]) -> dict[str, str]:
        for name, digest in files.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise PydanticCustomError(
                    "bundle_file_name",
                    "file names must be plain names inside the bundle, found {name}",
                    {"name": repr(name)},
                )
            if len(digest) != 64:
                raise PydanticCustomError(
                    "bundle_file_digest",
                    "sha256 of {name} must be 64 hex digits, found {digest}",
                    {"name": name, "digest": repr(digest)},
                )
        return files


@dataclass(frozen=True)
class BundleInfo:
    """What the training pipeline knows about a model besides its weights."""

    version: str
    model_set: str
    created_at: str
    training: dict[str, Any]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class LoadedBundle:
    """A model that passed every load check, with its manifest and folder."""

    model: Forecaster
    manifest: Manifest
    path: Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON and fsync it (NaN is refused: a bundle never holds NaN)."""
    with path.open("w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, allow_nan=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of Python, the core libraries and ``extra`` (those not installed are
    left out)."""
    versions = {"python": platform.python_version()}
    for name in (*_LIBRARIES, *extra):
        for distribution in (name, f"{name}-cpu"):  # xgboost-cpu installs the xgboost module
            try:
                versions[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def save_bundle(
    model: Forecaster,
    folder: Path,
    info: BundleInfo,
    probe_input: np.ndarray,
    spec: FeatureSpec = CURRENT_SPEC,
) -> Manifest:
    """Write a fitted model into an empty ``folder``; manifest.json is written last."""
    if model.scaler_ is None:
        raise BundleError(f"{folder}: cannot save an unfitted {model.family} model (no scaler)")
    folder.mkdir(parents=True, exist_ok=True)
    family = descriptor(model.family)
    declared = family.files_for(model.config)
    model.save_weights(folder)
    written = sorted(p.name for p in folder.iterdir() if p.name not in (SCALER, PROBE, MANIFEST))
    if written != sorted(declared):
        raise BundleError(
            f"{folder}: {model.family} declares weight files {sorted(declared)} in its "
            f"descriptor, save_weights wrote {written}"
        )
    _export_runtime(folder, model)
    write_json(folder / SCALER, model.scaler_.to_json())
    probe_output = model.predict(probe_input)
    write_json(
        folder / PROBE,
        {"input": probe_input.tolist(), "output": probe_output.tolist(), "rtol": PROBE_RTOL},
    )
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        family=model.family,
        version=info.version,
        model_set=info.model_set,
        created_at=info.created_at,
        config=model.config.to_dict(),
        feature_spec=spec.to_json(),
        feature_fingerprint=spec.fingerprint(),
        input_kind=model.input_kind,
        input_shape=list(model.input_shape),
        output_shape=[model.horizon],
        horizon=model.horizon,
        scaler_file=SCALER,
        probe_file=PROBE,
        weights_files=sorted(declared),
        training=info.training,
        metrics=info.metrics,
        libraries=library_versions(family.libraries),
        files={p.name: sha256_file(p) for p in sorted(folder.iterdir())},
    )
    write_json(folder / MANIFEST, manifest.model_dump())
    return manifest


def read_manifest(folder: Path) -> Manifest:
    """Step 1: parse and validate manifest.json, refusing unknown format versions."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder}: {MANIFEST} missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{folder}: {MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"{folder}: {MANIFEST} must hold an object, found {type(raw).__name__}")
    found = raw.get("format_version")
    if found not in SUPPORTED_FORMAT_VERSIONS:
        raise ManifestError(
            f"{folder}: format_version {found!r} is not supported; supported versions: "
            f"{list(SUPPORTED_FORMAT_VERSIONS)}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ManifestError(f"{folder}: {MANIFEST} does not match the schema: {problems}") from exc


def verify_checksums(folder: Path, manifest: Manifest) -> None:
    """Step 2: every listed file present and intact; nothing unlisted (a dropped-in .pkl)."""
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{folder}: {name} missing")
        found = sha256_file(path)
        if found != expected:
            raise ChecksumError(
                f"{folder}: {name} sha256 expected {expected[:16]}…, found {found[:16]}… "
                f"({path.stat().st_size} bytes): the file was changed or truncated"
            )
    unlisted = sorted(
        p.name for p in folder.iterdir() if p.name not in manifest.files and p.name != MANIFEST
    )
    if unlisted:
        pickles = [n for n in unlisted if n.lower().endswith(_PICKLE_SUFFIXES)]
        why = f" ({pickles}: a bundle never holds pickles, they can run code)" if pickles else ""
        raise ChecksumError(
            f"{folder}: files not listed in {MANIFEST}: {unlisted}; a bundle holds only its "
            f"listed files {sorted(manifest.files)}{why}"
        )
    for role, name in (("scaler", manifest.scaler_file), ("probe", manifest.probe_file)):
        if name not in manifest.files:
            raise BundleError(f"{folder}: {name} missing ({role} file not listed in {MANIFEST})")


def load_bundle(folder: str | Path, spec: FeatureSpec = CURRENT_SPEC) -> LoadedBundle:
    """Load one bundle through all seven checks; any failure raises with the folder named."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder}: expected a bundle folder, found nothing there")
    manifest = read_manifest(folder)
    verify_checksums(folder, manifest)
    try:
        model = build(manifest.family, manifest.config)
    except ConfigError as exc:
        raise BundleError(
            f"{folder}: config does not build a {manifest.family} model: {exc}"
        ) from exc
    check_weights_files(folder, manifest, model)
    with _ONE_TORCH_THREAD:
        _with_path(folder, model.load_weights, folder)
        model.scaler_ = _load_scaler(folder, manifest, model)
        _with_path(
            folder,
            spec.check_matches,
            manifest.feature_spec,
            manifest.feature_fingerprint,
            str(folder),
        )
        replay_probe(folder, manifest, model)
        _attach_runtime(folder, manifest, model)
    return LoadedBundle(model, manifest, folder)


def _export_runtime(folder: Path, model: Forecaster) -> None:
    """While saving: the family's ONNX export (``model.onnx``) where it has one. An export
    that fails leaves no file (the bundle then loads eager, saying why) and logs a warning."""
    export = getattr(model, "export_onnx", None)
    if not callable(export):
        return
    try:
        export(folder)
    except Exception as exc:  # an op the exporter cannot write, onnx not installed, ...
        (folder / ONNX_FILE).unlink(missing_ok=True)
        log.warning("%s: no %s written (%s: %s)", folder, ONNX_FILE, type(exc).__name__, exc)


def _attach_runtime(folder: Path, manifest: Manifest, model: Forecaster) -> None:
    """Step 8: ONNX Runtime for a family that has it, checked on the probe's inputs."""
    attach = getattr(model, "attach_onnx", None)
    if callable(attach):
        probe = json.loads((folder / manifest.probe_file).read_text())
        attach(folder, ONNX_FILE in manifest.files, np.asarray(probe["input"], dtype=np.float64))


def check_weights_files(folder: Path, manifest: Manifest, model: Forecaster) -> None:
    """Step 3b: the manifest lists exactly the weight files the family's descriptor declares
    for this config, and each is a checksummed file of the bundle."""
    declared = sorted(descriptor(model.family).files_for(model.config))
    if sorted(manifest.weights_files) != declared:
        raise BundleError(
            f"{folder}: {manifest.family} with this config holds weight files {declared}, "
            f"{MANIFEST} lists {sorted(manifest.weights_files)}"
        )
    unlisted = [name for name in declared if name not in manifest.files]
    if unlisted:
        raise BundleError(f"{folder}: weight files {unlisted} are not listed in {MANIFEST} files")


class _OneTorchThread:
    """While any bundle loads, torch (and the OpenMP runtime it shares with LightGBM) uses one
    intra-op thread: probes are 8 rows, and on a busy machine two spinning threads made a
    four-model load take over 1 s instead of 0.07 s. Re-entrant across threads; the previous
    count is restored when the last loader leaves. Does nothing until torch is imported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._before = 1

    def __enter__(self) -> None:
        torch = sys.modules.get("torch")
        with self._lock:
            if torch is not None and self._users == 0:
                self._before = torch.get_num_threads()
                torch.set_num_threads(1)
            self._users += torch is not None

    def __exit__(self, *exc: object) -> None:
        torch = sys.modules.get("torch")
        with self._lock:
            if torch is None or self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                torch.set_num_threads(self._before)


_ONE_TORCH_THREAD = _OneTorchThread()


def _with_path(folder: Path, call: Any, *args: Any) -> None:
    """Run a check; re-raise its engine error with the bundle path in front (once)."""
    try:
        call(*args)
    except AIEngineError as exc:
        message = str(exc)
        if message.startswith(str(folder)):
            raise
        raise type(exc)(f"{folder}: {message}") from exc


def _load_scaler(folder: Path, manifest: Manifest, model: Forecaster) -> Scaler:
    """Step 5: the scaler parses and is as wide as the model's inputs."""
    try:
        scaler = Scaler.from_json(json.loads((folder / manifest.scaler_file).read_text()))
    except (json.JSONDecodeError, BundleError) as exc:
        raise BundleError(f"{folder}: {manifest.scaler_file}: {exc}") from exc
    width = model.input_shape[-1]
    if scaler.width != width:
        raise BundleError(
            f"{folder}: {manifest.scaler_file} has width {scaler.width}, the model's inputs have "
            f"width {width}"
        )
    return scaler


def replay_probe(folder: Path, manifest: Manifest, model: Forecaster) -> None:
    """Step 7: the recorded output replays within ``rtol`` and is not constant."""
    probe = json.loads((folder / manifest.probe_file).read_text())
    try:
        probe_input = np.asarray(probe["input"], dtype=np.float64)
        expected = np.asarray(probe["output"], dtype=np.float64)
        rtol = float(probe.get("rtol", PROBE_RTOL))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProbeMismatchError(f"{folder}: {manifest.probe_file} is malformed: {exc!r}") from exc
    try:
        found = model.predict(probe_input)
    except AIEngineError as exc:
        raise ProbeMismatchError(f"{folder}: probe input does not fit the model: {exc}") from exc
    if found.shape != expected.shape:
        raise ProbeMismatchError(
            f"{folder}: probe output shape expected {expected.shape}, found {found.shape}"
        )
    scale = float(np.max(np.abs(expected))) or 1.0
    error = float(np.max(np.abs(found - expected)))
    if not np.all(np.isfinite(found)) or error > rtol * scale:
        raise ProbeMismatchError(
            f"{folder}: probe replay differs by {error:.3g} (relative {error / scale:.3g}), "
            f"tolerance {rtol:g} relative; the model does not compute what it computed at training"
        )
    if len(found) > 1 and np.all(np.ptp(found, axis=0) == 0):
        raise ProbeMismatchError(
            f"{folder}: {len(found)} different probe inputs gave one constant output; expected "
            f"varied outputs"
        )

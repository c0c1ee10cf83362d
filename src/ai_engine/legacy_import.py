"""Inspect and import checkpoints of the older training script, never running their code.

``inspect_checkpoint`` reads a PyTorch file with ``torch.load(weights_only=True)`` only (a file
holding anything beyond tensors and plain containers is refused, its pickle globals listed by a
static scan that executes nothing), finds the state_dict (bare, or under ``model_state_dict``
beside hyperparameter keys), infers the architecture from the tensor names and shapes, says
where each value came from, counts parameters, and names every stored hyperparameter that
contradicts the weights.

``import_legacy`` turns such a file into a bundle (safetensors + manifest) under
``bundles/imported/<family>/<version>`` after a strict load and a non-constant-output check.
Pickled XGBoost/LightGBM models (``.pkl``) are converted to their native formats, only with
``trust_pickle`` (unpickling runs code). Every import needs its input scaler, found beside the
file or given, or an explicit ``no_scaler``.

Inputs of imported models are the raw values the legacy script fed them, not this engine's
features: the manifest records a ``legacy-raw`` feature spec whose names are the model's input
columns (``raw_0`` ...; tree models keep their stored feature names). The engine's running spec
never matches it, so an imported bundle can never be served as an ensemble member by mistake;
``load_imported`` verifies it against its own recorded spec.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.bundle import BundleInfo, LoadedBundle, load_bundle, read_manifest, save_bundle
from ai_engine.errors import AIEngineError, BundleError, ConfigError, LegacyImportError
from ai_engine.features import FeatureSpec
from ai_engine.models.base import Forecaster, Scaler, build
from ai_engine.registry import IMPORTED_SET, Registry, utc_stamp

LEGACY_SPEC_VERSION = "legacy-raw"
HYPERPARAMETER_KEYS = (
    "input_dim",
    "hidden_dim",
    "output_dim",
    "n_blocks",
    "n_heads",
    "n_layers",
    "patch_len",
    "stride",
)
LOOKBACK_KEYS = ("lookback", "seq_len", "input_len", "context_length", "window")
STATE_KEYS = ("model_state_dict", "state_dict")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
DEFAULT_N_HEADS = 4
DEFAULT_POOLING = "mean"
PROBE_ROWS = 8


@dataclass(frozen=True)
class Finding:
    """One architecture value and where it came from."""

    name: str
    value: Any
    source: str


@dataclass
class Inspection:
    """What a legacy checkpoint holds and the architecture its weights imply."""

    path: Path
    layout: str
    family: str
    findings: list[Finding]
    stored: dict[str, Any]
    contradictions: list[str]
    parameter_count: int
    tensors: int
    strict_load: str
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        """The family config implied by the findings (``horizon`` = ``output_dim``)."""
        values = {f.name: f.value for f in self.findings if f.value is not None}
        return {**values, "horizon": values["output_dim"]}

    def lines(self) -> list[str]:
        out = [
            f"{self.path}: {self.layout}",
            f"architecture: {self.family} (from the tensor names)",
        ]
        out += [
            f"  {f.name} = {'unknown' if f.value is None else f.value}  <- {f.source}"
            for f in self.findings
        ]
        out.append(f"parameters: {self.parameter_count:,} in {self.tensors} tensors")
        stored = ", ".join(f"{k}={v!r}" for k, v in self.stored.items()) or "none"
        out.append(f"stored hyperparameters: {stored}")
        if self.contradictions:
            out.append(
                f"contradictions between stored hyperparameters and weights: "
                f"{len(self.contradictions)}"
            )
            out += [f"  {c}" for c in self.contradictions]
        else:
            out.append("contradictions between stored hyperparameters and weights: none")
        out.append(f"strict load into the rebuilt {self.family}: {self.strict_load}")
        out += [f"note: {n}" for n in self.notes]
        return out


@dataclass(frozen=True)
class ImportResult:
    """A bundle written by ``import_legacy``."""

    path: Path
    family: str
    version: str
    parameter_count: int
    scaler: str
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [
            f"imported {self.family} bundle {self.path} ({self.parameter_count:,} parameters;"
            f" scaler: {self.scaler})",
            *(f"note: {n}" for n in self.notes),
        ]


# ---- reading checkpoints safely ----------------------------------------------------------


def pickle_globals(path: Path) -> list[str]:
    """The ``module.name`` globals a pickle (or a torch zip's data.pkl) would import or call.

    A static scan of the opcodes with ``pickletools``: nothing is executed. Best effort (a
    global whose name comes from the memo is not resolved).
    """
    data = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inner = [n for n in archive.namelist() if n.endswith(".pkl")]
            data = archive.read(inner[0]) if inner else b""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                found.append(arg.replace("__builtin__ ", "builtins ").replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and ("UNICODE" in opcode.name or "STRING" in opcode.name):
                strings.append(arg)
    except (ValueError, EOFError, pickle.UnpicklingError):
        pass
    return list(dict.fromkeys(found))


def _refusal(path: Path, exc: Exception) -> LegacyImportError:
    try:
        names = pickle_globals(path)
    except OSError:
        names = []
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    unsupported = [
        line.split("error: ")[-1].split(". Please")[0] for line in lines if "Unsupported" in line
    ]
    reason = (unsupported or [line for line in lines if line] or [type(exc).__name__])[0]
    hint = (
        " A trusted pickled XGBoost/LightGBM model or scaler is converted by "
        "`ai-engine import-legacy FILE --trust-pickle`."
        if path.suffix in PICKLE_SUFFIXES
        else ""
    )
    return LegacyImportError(
        f"{path}: refused: expected a weights-only PyTorch checkpoint (tensors and plain "
        f"containers), found pickled objects that would import {names or 'unknown globals'}; "
        f"it was never unpickled ({reason}).{hint}"
    )


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any], str, list[str]]:
    """``(state_dict, stored hyperparameters, layout, notes)`` via ``weights_only=True`` only."""
    import torch

    if not path.is_file():
        raise LegacyImportError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the refusal says it
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # every failure of the restricted unpickler is a refusal
        raise _refusal(path, exc) from exc
    notes: list[str] = []
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state, stored, layout = dict(obj), {}, "bare state_dict"
    elif isinstance(obj, Mapping) and any(isinstance(obj.get(k), Mapping) for k in STATE_KEYS):
        key = next(k for k in STATE_KEYS if isinstance(obj.get(k), Mapping))
        state = dict(obj[key])
        stored = {k: obj[k] for k in (*HYPERPARAMETER_KEYS, *LOOKBACK_KEYS, "pooling") if k in obj}
        others = sorted(str(k) for k in obj if k != key and k not in stored)
        layout = f"checkpoint dict: {key} + hyperparameters {sorted(stored)}" + (
            f" + other entries {others}" if others else ""
        )
    else:
        found = (
            f"a dict with keys {sorted(map(str, obj))[:12]}"
            if isinstance(obj, Mapping)
            else type(obj).__name__
        )
        raise LegacyImportError(
            f"{path}: expected a state_dict or a dict with {' or '.join(STATE_KEYS)}, found {found}"
        )
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise LegacyImportError(
            f"{path}: state_dict entries that are not tensors: {not_tensors[:8]}"
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        notes.append("stripped the 'module.' prefix of every key (saved from DataParallel)")
    return state, stored, layout, notes


# ---- inferring the architecture ----------------------------------------------------------


def _indices(state: Mapping[str, Any], pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in state if (m := re.match(pattern, k))})


def _shape(state: Mapping[str, Any], key: str, dims: int, path: Path) -> tuple[int, ...]:
    if key not in state:
        raise LegacyImportError(f"{path}: expected tensor {key!r}, not in the state_dict")
    shape = tuple(int(d) for d in state[key].shape)
    if len(shape) != dims:
        raise LegacyImportError(f"{path}: {key} expected {dims}-D, found shape {shape}")
    return shape


def _contradictions(stored: Mapping[str, Any], findings: list[Finding]) -> list[str]:
    """Stored hyperparameters that differ from what the weights say."""
    from_weights = [
        f
        for f in findings
        if f.value is not None
        and f.source.split()[0] not in ("stored", "stated", "given", "unknown:")
    ]
    return [
        f"{f.name}: stored {stored[f.name]!r}, weights say {f.value!r} ({f.source})"
        for f in from_weights
        if f.name in stored and stored[f.name] != f.value
    ]


def _stored_or(
    name: str,
    override: Any,
    stored: Mapping[str, Any],
    keys: tuple[str, ...],
    default: Any,
    default_source: str,
) -> Finding:
    if override is not None:
        return Finding(name, override, "given on the command line")
    for key in keys:
        if key in stored:
            return Finding(name, stored[key], f"stored hyperparameter {key!r} (not in the weights)")
    return Finding(name, default, default_source)


def _infer_nhits(state: Mapping[str, Any], path: Path) -> tuple[list[Finding], list[str]]:
    blocks = _indices(state, r"blocks\.(\d+)\.")
    if blocks != list(range(len(blocks))):
        raise LegacyImportError(
            f"{path}: blocks.N. indices expected 0..{len(blocks) - 1}, found {blocks}"
        )
    hidden, input_dim = _shape(state, "blocks.0.0.weight", 2, path)
    output_dim, projected = _shape(state, "output_layer.weight", 2, path)
    notes = []
    if projected != hidden * len(blocks):
        notes.append(
            f"output_layer.weight takes {projected} inputs; {len(blocks)} blocks x hidden "
            f"{hidden} give {hidden * len(blocks)}: the weights are inconsistent"
        )
    findings = [
        Finding("input_dim", input_dim, f"blocks.0.0.weight shape {(hidden, input_dim)} (columns)"),
        Finding("hidden_dim", hidden, f"blocks.0.0.weight shape {(hidden, input_dim)} (rows)"),
        Finding("output_dim", output_dim, f"output_layer.weight shape {(output_dim, projected)}"),
        Finding("n_blocks", len(blocks), f"{len(blocks)} distinct blocks.N. prefixes"),
    ]
    return findings, notes


def _infer_patchtst(
    state: Mapping[str, Any], stored: Mapping[str, Any], path: Path, overrides: Mapping[str, Any]
) -> tuple[list[Finding], list[str]]:
    hidden, patch_len = _shape(state, "patch_embedding.weight", 2, path)
    output_dim, _ = _shape(state, "output_proj.weight", 2, path)
    layers = _indices(state, r"transformer\.layers\.(\d+)\.")
    positions = _shape(state, "pos_encoding", 3, path)
    notes = []
    if positions[1] != 100:
        notes.append(f"pos_encoding has {positions[1]} positions; the legacy script used 100")
    ff_key = "transformer.layers.0.linear1.weight"
    if ff_key in state and int(state[ff_key].shape[0]) != 4 * hidden:
        notes.append(
            f"{ff_key} has {int(state[ff_key].shape[0])} rows; the legacy architecture "
            f"uses dim_feedforward = 4 x hidden = {4 * hidden}"
        )
    stride_default = max(patch_len // 2, 1)
    findings = [
        Finding("hidden_dim", hidden, f"patch_embedding.weight shape {(hidden, patch_len)} (rows)"),
        Finding(
            "patch_len", patch_len, f"patch_embedding.weight shape {(hidden, patch_len)} (columns)"
        ),
        Finding("output_dim", output_dim, f"output_proj.weight shape {(output_dim, hidden)}"),
        Finding("n_layers", len(layers), f"{len(layers)} distinct transformer.layers.N. prefixes"),
        Finding("positions", positions[1], f"pos_encoding shape {positions}"),
        _stored_or(
            "n_heads",
            overrides.get("n_heads"),
            stored,
            ("n_heads",),
            DEFAULT_N_HEADS,
            f"stated default {DEFAULT_N_HEADS} (head count is not in the weights)",
        ),
        _stored_or(
            "stride",
            overrides.get("stride"),
            stored,
            ("stride",),
            stride_default,
            f"stated default patch_len // 2 = {stride_default} (not in the weights)",
        ),
        _stored_or(
            "lookback",
            overrides.get("lookback"),
            stored,
            LOOKBACK_KEYS,
            None,
            f"unknown: not in the weights nor stored as {list(LOOKBACK_KEYS)}; give --lookback",
        ),
        _stored_or(
            "pooling",
            overrides.get("pooling"),
            stored,
            ("pooling",),
            DEFAULT_POOLING,
            f"stated default {DEFAULT_POOLING!r}: how patches are pooled is not in the weights",
        ),
    ]
    if int(stored.get("input_dim", 1)) > 1:
        notes.append(
            f"stored input_dim {stored['input_dim']}: the weights patch one series "
            f"(patch_embedding takes {patch_len} values); the import takes that one "
            f"series as input"
        )
    return findings, notes


def inspect_checkpoint(path: str | Path, **overrides: Any) -> Inspection:
    """Read ``path`` safely and infer its architecture (``overrides``: n_heads, stride,
    lookback, pooling for legacy PatchTST, which the weights do not record)."""
    return _inspect(Path(path), overrides)[0]


def _inspect(path: Path, overrides: Mapping[str, Any]) -> tuple[Inspection, dict[str, Any]]:
    state, stored, layout, notes = read_checkpoint(path)
    if "blocks.0.0.weight" in state and "output_layer.weight" in state:
        family = "legacy-nhits"
        findings, more = _infer_nhits(state, path)
    elif "patch_embedding.weight" in state and "output_proj.weight" in state:
        family = "legacy-patchtst"
        findings, more = _infer_patchtst(state, stored, path, overrides)
    else:
        raise LegacyImportError(
            f"{path}: expected a legacy N-HiTS (blocks.0.0.weight, output_layer.weight) or "
            f"PatchTST (patch_embedding.weight, output_proj.weight) state_dict, found keys "
            f"{sorted(state)[:10]}"
        )
    contradictions = _contradictions(stored, findings)
    if family == "legacy-patchtst":
        heads = next(f.value for f in findings if f.name == "n_heads")
        hidden = next(f.value for f in findings if f.name == "hidden_dim")
        if hidden % int(heads):
            contradictions.append(
                f"n_heads: {heads} does not divide hidden_dim {hidden} (patch_embedding.weight)"
            )
    inspection = Inspection(
        path=path,
        layout=layout,
        family=family,
        findings=findings,
        stored=stored,
        contradictions=contradictions,
        tensors=len(state),
        parameter_count=int(sum(int(t.numel()) for t in state.values())),
        strict_load="not tried",
        notes=notes + more,
    )
    inspection.strict_load = _try_strict_load(inspection, state)
    return inspection, state


def _build(inspection: Inspection, placeholder_lookback: bool) -> Forecaster:
    config = inspection.config
    if inspection.family == "legacy-patchtst" and "lookback" not in config:
        if not placeholder_lookback:
            raise LegacyImportError(
                f"{inspection.path}: legacy PatchTST needs its input length, which the weights do "
                f"not record and the checkpoint does not store (looked for {list(LOOKBACK_KEYS)});"
                f" give --lookback N"
            )
        config["lookback"] = config["patch_len"]
    try:
        return build(inspection.family, config)
    except ConfigError as exc:
        raise LegacyImportError(
            f"{inspection.path}: inferred config does not build: {exc}"
        ) from exc


def _try_strict_load(inspection: Inspection, state: Mapping[str, Any]) -> str:
    try:
        model = _build(inspection, placeholder_lookback=True)
        model.load_state(state, str(inspection.path))  # type: ignore[attr-defined]
    except AIEngineError as exc:
        return f"FAILED: {exc}"
    return "OK (every key and shape matches)"


# ---- scalers -------------------------------------------------------------------------------


def scaler_candidates(model_path: Path) -> list[str]:
    """File names looked for beside a model, most specific first."""
    stem = model_path.stem
    names = [
        f"{stem}_scaler.json",
        f"{stem}.scaler.json",
        f"{stem}_scaler.pkl",
        f"{stem}.scaler.pkl",
        f"scaler_{stem}.pkl",
    ]
    for version in re.findall(r"v?\d{8}_\d{6}", stem):
        names += [
            f"scaler_{version}.pkl",
            f"scaler_{version}.json",
            f"feature_scaler_{version}.pkl",
        ]
    names += ["scaler.json", "scaler.pkl"]
    return list(dict.fromkeys(names))


def scaler_from_object(obj: Any, source: str) -> Scaler:
    """Our Scaler from scaler.json data or a sklearn-like Standard/MinMax/Robust scaler."""
    try:
        if isinstance(obj, Mapping) and "kind" in obj:
            return Scaler.from_json(dict(obj))
        if isinstance(obj, Mapping) and "mean" in obj and "scale" in obj:
            mean, scale = np.asarray(obj["mean"], float), np.asarray(obj["scale"], float)
        elif hasattr(obj, "data_min_") and hasattr(obj, "min_"):  # MinMaxScaler: x*s + m
            s = np.asarray(obj.scale_, float)
            mean, scale = -np.asarray(obj.min_, float) / s, 1.0 / s
        elif hasattr(obj, "mean_") or hasattr(obj, "var_"):  # StandardScaler
            width = int(getattr(obj, "n_features_in_", len(np.atleast_1d(obj.mean_))))
            mean = np.zeros(width) if obj.mean_ is None else np.asarray(obj.mean_, float)
            scale = np.ones(width) if obj.scale_ is None else np.asarray(obj.scale_, float)
        elif hasattr(obj, "center_"):  # RobustScaler
            width = int(obj.n_features_in_)
            mean = np.zeros(width) if obj.center_ is None else np.asarray(obj.center_, float)
            scale = np.ones(width) if obj.scale_ is None else np.asarray(obj.scale_, float)
        else:
            raise LegacyImportError(
                f"{source}: expected a StandardScaler/MinMaxScaler/RobustScaler-like object or "
                f"scaler JSON, found {type(obj).__module__}.{type(obj).__qualname__}"
            )
        return Scaler.from_json(
            {
                "kind": "standard",
                "mean": np.atleast_1d(mean).tolist(),
                "scale": np.atleast_1d(scale).tolist(),
                "target_scale": 1.0,
            }
        )
    except (BundleError, TypeError, ValueError, AttributeError) as exc:
        raise LegacyImportError(f"{source}: not a usable scaler: {exc}") from exc


def read_scaler(path: Path, trust_pickle: bool) -> Scaler:
    """A scaler file: JSON always, a pickle only with ``trust_pickle``."""
    if not path.is_file():
        raise LegacyImportError(f"scaler file {path} not found")
    if path.suffix == ".json":
        try:
            return scaler_from_object(json.loads(path.read_text()), str(path))
        except json.JSONDecodeError as exc:
            raise LegacyImportError(f"{path}: not valid JSON: {exc}") from exc
    if not trust_pickle:
        raise LegacyImportError(
            f"{path}: a pickled scaler; refusing to unpickle it without --trust-pickle "
            f"(unpickling runs code: trust only files you made)"
        )
    return scaler_from_object(_unpickle(path), str(path))


def resolve_scaler(
    model_path: Path, given: Path | None, no_scaler: bool, trust_pickle: bool, width: int
) -> tuple[Scaler, str]:
    """The input scaler, fitted to ``width`` inputs, and a description of where it came from."""
    if given is not None and no_scaler:
        raise LegacyImportError("give either --scaler FILE or --no-scaler, not both")
    if no_scaler:
        identity = Scaler(tuple([0.0] * width), tuple([1.0] * width), 1.0)
        return identity, "none (--no-scaler: inputs are fed to the model as given)"
    if given is None:
        names = scaler_candidates(model_path)
        found = [model_path.parent / n for n in names if (model_path.parent / n).is_file()]
        if not found:
            raise LegacyImportError(
                f"{model_path}: no scaler found; looked for {names} in {model_path.parent}; give "
                f"--scaler FILE, or --no-scaler if the model was trained on unscaled inputs"
            )
        given = found[0]
    scaler = read_scaler(given, trust_pickle)
    if scaler.width == width:
        return scaler, str(given)
    if width % scaler.width:
        raise LegacyImportError(
            f"{given}: scaler width {scaler.width} does not fit the model's {width} inputs "
            f"(expected {width} or a divisor of it)"
        )
    repeat = width // scaler.width
    tiled = Scaler(
        tuple(np.tile(scaler.mean, repeat).tolist()),
        tuple(np.tile(scaler.scale, repeat).tolist()),
        scaler.target_scale,
    )
    return tiled, (
        f"{given} (width {scaler.width}, repeated {repeat}x over the flattened {width} inputs)"
    )


def _unpickle(path: Path) -> Any:
    """Full unpickling: called only when the operator passed --trust-pickle."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)  # only behind the explicit --trust-pickle
    except Exception as exc:
        raise LegacyImportError(f"{path}: cannot unpickle: {exc!r}") from exc


# ---- the legacy-raw feature spec and imported bundles --------------------------------------


def legacy_spec(names: list[str], horizon: int) -> FeatureSpec:
    """The feature spec an imported bundle records: its raw input columns, nothing computed."""
    return FeatureSpec(
        version=LEGACY_SPEC_VERSION,
        names=tuple(names),
        params=(("input", "raw values as the legacy script fed them; no engine features"),),
        lookback=0,
        horizon=horizon,
        min_history=0,
        channels=(),
    )


def spec_from_json(data: Mapping[str, Any], where: str) -> FeatureSpec:
    """Rebuild a FeatureSpec from its recorded JSON."""
    try:
        return FeatureSpec(
            version=str(data["version"]),
            names=tuple(data["names"]),
            params=tuple(dict(data["params"]).items()),
            lookback=int(data["lookback"]),
            horizon=int(data["horizon"]),
            min_history=int(data["min_history"]),
            channels=tuple(data["channels"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: feature_spec is malformed: {exc!r}") from exc


def load_imported(folder: str | Path) -> LoadedBundle:
    """Load an imported bundle through every check, against the spec it recorded."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.feature_spec.get("version") != LEGACY_SPEC_VERSION:
        raise BundleError(
            f"{folder}: expected an imported bundle (feature spec {LEGACY_SPEC_VERSION!r}), found "
            f"spec {manifest.feature_spec.get('version')!r}"
        )
    return load_bundle(folder, spec_from_json(manifest.feature_spec, str(folder)))


def _probe_inputs(scaler: Scaler) -> np.ndarray:
    """Seeded varied inputs in the raw input space (standard normal after scaling)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((PROBE_ROWS, scaler.width))
    return z * np.asarray(scaler.scale) + np.asarray(scaler.mean)


def _check_outputs(model: Forecaster, probe: np.ndarray, source: Path) -> None:
    out = model.predict(probe)
    if not np.all(np.isfinite(out)):
        raise LegacyImportError(f"{source}: the model gives non-finite outputs on varied inputs")
    if np.all(np.ptp(out, axis=0) == 0):
        raise LegacyImportError(
            f"{source}: {len(probe)} different inputs gave one constant output {out[0].tolist()}; "
            f"expected varied outputs (dead or zeroed weights)"
        )


def _publish(
    registry: Registry,
    model: Forecaster,
    spec: FeatureSpec,
    training: dict[str, Any],
    probe: np.ndarray,
) -> Path:
    """Write the bundle into staging, then rename it into ``bundles/imported/`` atomically."""
    version = f"v{utc_stamp()}"
    info = BundleInfo(version, IMPORTED_SET, datetime.now(UTC).isoformat(), training, {})

    def write(folder: Path) -> None:
        save_bundle(model, folder, info, probe, spec)

    staged = registry.stage_bundle(IMPORTED_SET, model.family, version, write)
    try:
        member = registry.add_bundles([staged])[0]
    except BaseException:
        registry.discard([staged])
        raise
    return registry.root / member.path


def _provenance(path: Path, layout: str, scaler_source: str) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "source": str(path.resolve()),
        "source_sha256": digest,
        "layout": layout,
        "scaler": scaler_source,
        "target_scale": "1.0: outputs are the model's own",
        "input": "raw values as the legacy script fed them (legacy-raw feature spec)",
    }


def import_legacy(
    path: str | Path,
    registry: str | Path | Registry,
    *,
    trust_pickle: bool = False,
    scaler: str | Path | None = None,
    no_scaler: bool = False,
    **overrides: Any,
) -> ImportResult:
    """Convert a legacy checkpoint (or, with ``trust_pickle``, a pickled tree model) to a bundle."""
    path = Path(path)
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    given = Path(scaler) if scaler is not None else None
    if path.suffix in PICKLE_SUFFIXES:
        return _import_pickled_trees(path, registry, trust_pickle, given, no_scaler)
    inspection, state = _inspect(path, overrides)
    model = _build(inspection, placeholder_lookback=False)
    try:
        model.load_state(state, str(path))  # type: ignore[attr-defined]
    except AIEngineError as exc:
        raise LegacyImportError(f"{path}: strict load failed: {exc}") from exc
    width = model.input_shape[0]
    model.scaler_, scaler_source = resolve_scaler(path, given, no_scaler, trust_pickle, width)
    probe = _probe_inputs(model.scaler_)
    _check_outputs(model, probe, path)
    training = {
        **_provenance(path, inspection.layout, scaler_source),
        "stored_hyperparameters": {k: _plain(v) for k, v in inspection.stored.items()},
        "inferred": {f.name: f.source for f in inspection.findings},
        "contradictions": inspection.contradictions,
    }
    spec = legacy_spec([f"raw_{i}" for i in range(width)], model.horizon)
    bundle = _publish(registry, model, spec, training, probe)
    return ImportResult(
        bundle,
        model.family,
        bundle.name,
        model.parameter_count(),
        scaler_source,
        tuple(inspection.contradictions + inspection.notes),
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _import_pickled_trees(
    path: Path, registry: Registry, trust_pickle: bool, given: Path | None, no_scaler: bool
) -> ImportResult:
    if not path.is_file():
        raise LegacyImportError(f"{path}: no such file")
    if not trust_pickle:
        raise LegacyImportError(
            f"{path}: a pickle; refusing to unpickle it without --trust-pickle (unpickling runs "
            f"code: trust only files you made); it would import {pickle_globals(path) or 'nothing'}"
        )
    obj = _unpickle(path)
    model, names = _tree_model(obj, path)
    width = model.input_shape[0]
    model.scaler_, scaler_source = resolve_scaler(path, given, no_scaler, trust_pickle, width)
    probe = _probe_inputs(model.scaler_)
    _check_outputs(model, probe, path)
    layout = f"pickled {type(obj).__module__}.{type(obj).__qualname__}"
    spec = legacy_spec(names, model.horizon)
    bundle = _publish(registry, model, spec, _provenance(path, layout, scaler_source), probe)
    return ImportResult(
        bundle,
        model.family,
        bundle.name,
        model.parameter_count(),
        scaler_source,
        (f"converted from {layout} to the native format",),
    )


def _tree_model(obj: Any, path: Path) -> tuple[Forecaster, list[str]]:
    """An XGBoost or LightGBM forecaster around an unpickled booster (or sklearn wrapper)."""
    import lightgbm as lgb
    import xgboost as xgb

    if hasattr(obj, "get_booster"):
        obj = obj.get_booster()
    elif hasattr(obj, "booster_"):
        obj = obj.booster_
    if isinstance(obj, xgb.Booster):
        learner = json.loads(obj.save_config())["learner"]["learner_model_param"]
        outputs = max(int(learner.get("num_target", 1)), 1)
        model = build("xgboost", {"n_features": obj.num_features(), "horizon": outputs})
        model.booster_ = obj  # type: ignore[attr-defined]
        names = list(obj.feature_names or [])
    elif isinstance(obj, lgb.Booster):
        if obj.num_model_per_iteration() != 1:
            raise LegacyImportError(
                f"{path}: expected a single-output LightGBM regressor, found "
                f"{obj.num_model_per_iteration()} models per iteration"
            )
        model = build("lightgbm", {"n_features": obj.num_feature(), "horizon": 1})
        model.boosters_ = [obj]  # type: ignore[attr-defined]
        names = list(obj.feature_name())
    else:
        raise LegacyImportError(
            f"{path}: expected a pickled XGBoost or LightGBM model, found "
            f"{type(obj).__module__}.{type(obj).__qualname__}"
        )
    width = model.input_shape[0]
    if len(names) != width:
        names = [f"raw_{i}" for i in range(width)]
    return model, names

"""Inferring a legacy checkpoint's architecture from its tensor names and shapes.

``inspect_checkpoint`` reads the file safely (``reading``), recognises a legacy N-HiTS or
PatchTST state_dict, infers each architecture value and says where it came from (a tensor
shape, a stored hyperparameter, the command line or a stated default), names every stored
hyperparameter that contradicts the weights, and tries a strict load into the rebuilt model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ai_engine.errors import AIEngineError, ConfigError, LegacyImportError
from ai_engine.legacy_import.reading import LOOKBACK_KEYS, read_checkpoint
from ai_engine.legacy_import.report import Finding, Inspection
from ai_engine.models.base import Forecaster, build

DEFAULT_N_HEADS = 4
DEFAULT_POOLING = "mean"


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
    return inspect_with_state(Path(path), overrides)[0]


def inspect_with_state(
    path: Path, overrides: Mapping[str, Any]
) -> tuple[Inspection, dict[str, Any]]:
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


def build_forecaster(inspection: Inspection, placeholder_lookback: bool) -> Forecaster:
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
        model = build_forecaster(inspection, placeholder_lookback=True)
        model.load_state(state, str(inspection.path))  # type: ignore[attr-defined]
    except AIEngineError as exc:
        return f"FAILED: {exc}"
    return "OK (every key and shape matches)"

"""``import_legacy``: a legacy checkpoint (or trusted pickled tree model) to a bundle.

A PyTorch checkpoint is inspected, rebuilt, strictly loaded, given its input scaler, checked on
varied inputs and published under ``bundles/imported/``; a pickle goes to ``trees``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_engine.errors import AIEngineError, LegacyImportError
from ai_engine.legacy_import.inference import build_forecaster, inspect_with_state
from ai_engine.legacy_import.publish import check_outputs, probe_inputs, provenance, publish
from ai_engine.legacy_import.reading import PICKLE_SUFFIXES
from ai_engine.legacy_import.report import ImportResult
from ai_engine.legacy_import.scalers import resolve_scaler
from ai_engine.legacy_import.spec import legacy_spec
from ai_engine.legacy_import.trees import import_pickled_trees
from ai_engine.registry import Registry


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
        return import_pickled_trees(path, registry, trust_pickle, given, no_scaler)
    inspection, state = inspect_with_state(path, overrides)
    model = build_forecaster(inspection, placeholder_lookback=False)
    try:
        model.load_state(state, str(path))  # type: ignore[attr-defined]
    except AIEngineError as exc:
        raise LegacyImportError(f"{path}: strict load failed: {exc}") from exc
    width = model.input_shape[0]
    model.scaler_, scaler_source = resolve_scaler(path, given, no_scaler, trust_pickle, width)
    probe = probe_inputs(model.scaler_)
    check_outputs(model, probe, path)
    training = {
        **provenance(path, inspection.layout, scaler_source),
        "stored_hyperparameters": {k: _plain(v) for k, v in inspection.stored.items()},
        "inferred": {f.name: f.source for f in inspection.findings},
        "contradictions": inspection.contradictions,
    }
    spec = legacy_spec([f"raw_{i}" for i in range(width)], model.horizon)
    bundle = publish(registry, model, spec, training, probe)
    return ImportResult(
        bundle,
        model.family,
        bundle.name,
        model.parameter_count(),
        scaler_source,
        tuple(inspection.contradictions + inspection.notes),
    )


def _plain(value: Any) -> Any:
    """A JSON-able scalar as is, anything else as its ``repr``."""
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)

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

Modules, one job each:

- ``reading``: weights-only loading, the static pickle scan, the one trusted unpickle.
- ``inference``: the architecture from tensor names and shapes (``inspect_checkpoint``).
- ``report``: ``Finding``, ``Inspection`` and ``ImportResult`` and their rendering.
- ``scalers``: finding and reading the input scaler.
- ``spec``: the ``legacy-raw`` feature spec, ``spec_from_json``, ``load_imported``.
- ``publish``: output checks and the atomic publish into ``bundles/imported/``.
- ``trees``: pickled XGBoost/LightGBM import (``trust_pickle`` only).
- ``importer``: ``import_legacy``, which ties them together.
"""

from __future__ import annotations

from ai_engine.legacy_import.importer import import_legacy
from ai_engine.legacy_import.inference import inspect_checkpoint
from ai_engine.legacy_import.reading import pickle_globals, read_checkpoint
from ai_engine.legacy_import.report import Finding, ImportResult, Inspection
from ai_engine.legacy_import.scalers import (
    read_scaler,
    resolve_scaler,
    scaler_candidates,
    scaler_from_object,
)
from ai_engine.legacy_import.spec import (
    LEGACY_SPEC_VERSION,
    legacy_spec,
    load_imported,
    spec_from_json,
)

__all__ = [
    "LEGACY_SPEC_VERSION",
    "Finding",
    "ImportResult",
    "Inspection",
    "import_legacy",
    "inspect_checkpoint",
    "legacy_spec",
    "load_imported",
    "pickle_globals",
    "read_checkpoint",
    "read_scaler",
    "resolve_scaler",
    "scaler_candidates",
    "scaler_from_object",
    "spec_from_json",
]

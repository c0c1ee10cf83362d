"""The ``legacy-raw`` feature spec of imported bundles, and loading those bundles.

An imported model's inputs are the raw values the legacy script fed it, not this engine's
features: its manifest records a ``legacy-raw`` spec whose names are the model's input columns.
The engine's running spec never matches it, so an imported bundle can never be served as an
ensemble member by mistake; ``load_imported`` verifies it against its own recorded spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ai_engine.bundle import LoadedBundle, load_bundle, read_manifest
from ai_engine.errors import BundleError
from ai_engine.features import FeatureSpec

LEGACY_SPEC_VERSION = "legacy-raw"


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

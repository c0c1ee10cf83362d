"""Checking an imported model's outputs and publishing it as a bundle.

``probe_inputs`` draws seeded varied inputs; ``check_outputs`` refuses a model whose outputs
are non-finite or constant on them; ``publish`` stages the bundle and renames it into
``bundles/imported/<family>/<version>`` atomically; ``provenance`` records where it came from.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.bundle import BundleInfo, save_bundle
from ai_engine.errors import LegacyImportError
from ai_engine.features import FeatureSpec
from ai_engine.models.base import Forecaster, Scaler
from ai_engine.registry import IMPORTED_SET, Registry, utc_stamp

PROBE_ROWS = 8


def probe_inputs(scaler: Scaler) -> np.ndarray:
    """Seeded varied inputs in the raw input space (standard normal after scaling)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((PROBE_ROWS, scaler.width))
    return z * np.asarray(scaler.scale) + np.asarray(scaler.mean)


def check_outputs(model: Forecaster, probe: np.ndarray, source: Path) -> None:
    """Refuse non-finite outputs, or one constant output, on the ``(rows, width)`` probe."""
    out = model.predict(probe)
    if not np.all(np.isfinite(out)):
        raise LegacyImportError(f"{source}: the model gives non-finite outputs on varied inputs")
    if np.all(np.ptp(out, axis=0) == 0):
        raise LegacyImportError(
            f"{source}: {len(probe)} different inputs gave one constant output {out[0].tolist()}; "
            f"expected varied outputs (dead or zeroed weights)"
        )


def publish(
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


def provenance(path: Path, layout: str, scaler_source: str) -> dict[str, Any]:
    """The manifest's record of the source file (with its SHA-256), layout and scaler."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "source": str(path.resolve()),
        "source_sha256": digest,
        "layout": layout,
        "scaler": scaler_source,
        "target_scale": "1.0: outputs are the model's own",
        "input": "raw values as the legacy script fed them (legacy-raw feature spec)",
    }

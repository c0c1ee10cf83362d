"""Tiny per-family hyperparameters so that tests train every member in seconds.

Derived from each family's descriptor (its ``tiny`` preset), never kept here by hand; the ridge
plugin of examples/ is registered by ``ridge_plugin()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_engine.models.family import default_members, descriptor, import_plugin

RIDGE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "ridge_family.py"

TINY: dict[str, dict[str, Any]] = {
    family: dict(descriptor(family).presets["tiny"]) for family in default_members()
}
"""Default member -> its tiny preset (overrides on top of ``quick``; equal to ``tiny`` alone)."""


def ridge_plugin() -> str:
    """Register the example ridge family (once per process); its family name."""
    (name,) = import_plugin(str(RIDGE_PLUGIN))
    return name

"""Finding and reading the input scaler a legacy model was trained with.

A scaler is looked for beside the model file (``scaler_candidates``) or given; JSON is always
read, a pickled sklearn scaler only with ``trust_pickle``. ``resolve_scaler`` fits it to the
model's input width (tiling a per-channel scaler over flattened inputs) or, with ``no_scaler``,
returns the identity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.errors import BundleError, LegacyImportError
from ai_engine.legacy_import.reading import unpickle_trusted
from ai_engine.models.base import Scaler


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
    return scaler_from_object(unpickle_trusted(path), str(path))


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

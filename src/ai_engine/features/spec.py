"""FeatureSpec: the names, order and parameters of a feature set, and its fingerprint.

A bundle records the spec and fingerprint it was trained with; at load the fingerprint must
equal the running code's, so features can never drift between training and serving.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ai_engine.errors import FeatureSpecMismatchError


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that decides what a model sees.

    ``names``: the tabular features in column order. ``params``: every indicator parameter.
    ``lookback``: bars in a sequence window. ``horizon``: forward bars forecast.
    ``min_history``: candles needed so that every feature (EMA-seeded ones included) is
    settled; training rows start there and serving asks for at least that many candles.
    ``channels``: per-bar series in a sequence window, in order.
    """

    version: str
    names: tuple[str, ...]
    params: tuple[tuple[str, Any], ...]
    lookback: int
    horizon: int
    min_history: int
    channels: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.names)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["names"] = list(self.names)
        data["channels"] = list(self.channels)
        data["params"] = {k: v for k, v in self.params}
        return data

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the spec (first 16 hex digits)."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def check_matches(
        self, recorded: dict[str, Any], recorded_fingerprint: str, where: str
    ) -> None:
        """Raise FeatureSpecMismatchError unless ``recorded_fingerprint`` is this spec's."""
        if recorded_fingerprint == self.fingerprint():
            return
        theirs = list(recorded.get("names", []))
        differing = [
            f"{i}:{a}!={b}"
            for i, (a, b) in enumerate(zip(self.names, theirs, strict=False))
            if a != b
        ]
        differing += [f"only in running code: {n}" for n in self.names[len(theirs) :]]
        differing += [f"only in bundle: {n}" for n in theirs[len(self.names) :]]
        if not differing:
            ours = self.to_json()
            differing = [
                f"{k}: running {ours.get(k)!r} vs bundle {recorded.get(k)!r}"
                for k in sorted(set(ours) | set(recorded))
                if k != "names" and ours.get(k) != recorded.get(k)
            ]
        raise FeatureSpecMismatchError(
            f"{where}: feature fingerprint {recorded_fingerprint} (spec {recorded.get('version')}) "
            f"differs from the running code's {self.fingerprint()} (spec {self.version}); "
            f"differences: {'; '.join(differing) or 'none visible in names/params'}"
        )

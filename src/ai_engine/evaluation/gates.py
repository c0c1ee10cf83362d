"""Input that looks like nothing seen in training: a distance to the training features.

Like FreqAI's dissimilarity index, but cheaper: the distance of a bar is the root mean square
of its 22 features standardised by the training mean and spread. The threshold is a high
quantile of the training bars' own distances, so that about ``1 - quantile`` of ordinary bars
are flagged; a bar beyond it signals HOLD with reason ``ood_input``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OOD_QUANTILE = 0.999


@dataclass(frozen=True)
class DistanceGate:
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    quantile: float

    @classmethod
    def fit(cls, tabular: np.ndarray, quantile: float = OOD_QUANTILE) -> DistanceGate:
        """From training features ``(n, f)``."""
        mean = tabular.mean(axis=0)
        scale = tabular.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        gate = cls(mean, scale, np.inf, quantile)
        return cls(mean, scale, float(np.quantile(gate.distance(tabular), quantile)), quantile)

    def distance(self, tabular: np.ndarray) -> np.ndarray:
        """``(n, f)`` -> ``(n,)`` RMS of standardised features."""
        z = (tabular - self.mean) / self.scale
        return np.sqrt(np.mean(z**2, axis=1))

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "rms standardised feature distance",
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "threshold": self.threshold,
            "quantile": self.quantile,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DistanceGate:
        return cls(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            float(data["threshold"]),
            float(data["quantile"]),
        )

"""What ``inspect`` and ``import-legacy`` report, and how it is rendered as lines.

``Finding`` is one architecture value and its source; ``Inspection`` is everything
``inspect_checkpoint`` learned about a checkpoint; ``ImportResult`` describes a written bundle.
Each ``lines()`` renders the report the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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

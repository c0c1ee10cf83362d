"""The JSON Schemas of the contract's bodies, made from their models (contract.bodies).

docs/schemas/ holds them as files (``ai-engine contract schemas --write docs/schemas``); a
test keeps the files equal to these, and ``breaking_changes`` tells whether a change needs a
new ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ai_engine.contract import NAMES, SCHEMA_VERSION
from ai_engine.contract.bodies import ForecastOut, ProposalOut, SignalOut
from ai_engine.errors import NotFound

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the ``name`` body (signal, forecast or proposal)."""

    models: dict[str, type[BaseModel]] = {
        "signal": SignalOut,
        "forecast": ForecastOut,
        "proposal": ProposalOut,
    }
    if name not in models:
        raise NotFound(f"unknown schema {name!r}; expected one of {list(NAMES)}")
    body = models[name].model_json_schema(mode="serialization")
    return {
        "$schema": DIALECT,
        "$id": f"urn:quantum-ai-engine:{name}:{SCHEMA_VERSION}",
        "x-schema-version": SCHEMA_VERSION,
        **body,
    }


def text(name: str) -> str:
    """The schema as the file in docs/schemas/ holds it (sorted keys, 2-space indent)."""
    return json.dumps(schema(name), indent=2, sort_keys=True) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every schema as ``folder/<name>.json``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in NAMES:
        path = folder / f"{name}.json"
        path.write_text(text(name))
        paths.append(path)
    return paths

"""The package's import graph: no loops, and no import from a lower layer to a higher one.

Every ``import`` counts, at module level or inside a function; only ``if TYPE_CHECKING:``
blocks are left out (they never run: annotations only). The layers follow the data flow of
DESIGN.md: data -> features -> models -> bundle -> evaluation -> registry -> engine -> safety
-> serving -> edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ai_engine"
LAYERS: list[set[str]] = [
    {"errors"},
    {"data", "candle_arrays", "contract", "synthetic"},
    {"features"},
    {"models"},
    {"bundle"},
    {"evaluation"},
    {"release_format", "registry_records", "registry", "registry_upgrade", "coverage"},
    {"ensemble", "engine", "signal_text"},
    {"training", "legacy_import", "safety"},
    {"serving"},
    {"multi", "backtest"},
    {"service", "cli", "integrations", "doctor", "ai_engine"},
]
"""Lowest first: a module may import its own layer and those below, never one above."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The package module ``name`` (or ``package.attribute``) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, outside ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(t for n in names if n.startswith("ai_engine") and (t := resolve(n)))
    return found


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name, path in MODULES.items():
        g.add_node(name)
        g.add_edges_from((name, target) for target in imports(path) if target != name)
    return g


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else module
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"module {module}: its package {top!r} is in no layer of LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_the_import_graph_has_no_loops() -> None:
    loops = [sorted(c) for c in nx.strongly_connected_components(graph()) if len(c) > 1]
    assert loops == [], f"import loops: {loops}"


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, b in graph().edges
        if layer(b) > layer(a)
    )
    assert upward == [], "\n".join(upward)


def test_signals_are_made_and_series_viewed_only_in_the_data_plane() -> None:
    """``signal_from(``, ``series_view(`` and ``Engine.signal`` are called only in serving/ and
    engine.py."""
    allowed = {"engine", "serving"}
    callers = sorted(
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        for call in ("signal_from(", "series_view(", "engine.signal(", ".signal(candles")
        if call in p.read_text().replace(f"def {call}", "")
        and module_name(p).split(".")[1] not in allowed
    )
    assert callers == [], f"made outside the data plane: {callers}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_source_file_is_over_450_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 450, f"{path.relative_to(PACKAGE)}: {lines} lines"

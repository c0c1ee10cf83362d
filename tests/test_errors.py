"""The one error tree: the drawing in errors.py is the class hierarchy, and library code raises
nothing else on purpose (no bare ValueError / AssertionError, no ``assert`` for conditions)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import ai_engine
from ai_engine import errors

SRC = Path(ai_engine.__file__).resolve().parent
BARE = {"ValueError", "AssertionError", "TypeError", "RuntimeError", "Exception"}


def drawn_tree() -> dict[str, str]:
    """Class name -> parent name, read from the drawing in the module docstring."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    lines = (errors.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "AIEngineError")
    indent = lines[start].index("AIEngineError")
    for line in lines[start:]:
        match = re.match(r"^[│├└─ ]*([A-Z]\w+)", line[indent:])
        if not line.strip():
            break
        assert match, line
        depth = match.start(1) // 4
        del stack[depth:]
        if stack:
            parents[match[1]] = stack[-1]
        stack.append(match[1])
    return parents


def test_the_drawing_is_the_class_hierarchy() -> None:
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.AIEngineError)
    }
    actual = {
        name: cls.__bases__[0].__name__ for name, cls in classes.items() if name != "AIEngineError"
    }
    drawn = drawn_tree()
    assert len(drawn) >= 17
    assert drawn == actual
    assert all(len(cls.__bases__) == 1 for cls in classes.values())


def test_the_service_errors_live_in_the_tree() -> None:
    for name in ("InputError", "EngineUnavailable", "NotFound", "PromotionRefused"):
        assert issubclass(getattr(errors, name), errors.AIEngineError), name
    assert issubclass(errors.InputError, errors.DataValidationError)
    assert errors.InputError(["body", "candles"], "bad").loc == ["body", "candles"]


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Assert):
            found.append(f"{where}: assert (vanishes under python -O)")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id in BARE:
                found.append(f"{where}: raise {raised.id} (use the error tree in errors.py)")
    return found


def test_library_code_raises_only_the_error_tree() -> None:
    offences = [o for path in sorted(SRC.rglob("*.py")) for o in _offences(path)]
    assert offences == []

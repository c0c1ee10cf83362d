"""freqtrade integration: ``AIEngineStrategy`` (needs the ``freqtrade`` extra), the offline
launcher (``offline``: markets from a static file) and the user-directory writer (``userdir``).

``from ai_engine.integrations.freqtrade import AIEngineStrategy`` imports freqtrade on first
use only, so the rest of this package works without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AIEngineStrategy"]


def __getattr__(name: str) -> Any:
    if name == "AIEngineStrategy":
        from ai_engine.integrations.freqtrade.strategy import AIEngineStrategy

        return AIEngineStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

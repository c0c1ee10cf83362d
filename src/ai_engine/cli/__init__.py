"""The ``ai-engine`` command line (Typer). Thin: it parses options, calls the core, prints.

``common`` holds the apps, consoles and ``main``; ``forecast``, ``models`` and ``ops`` register
their commands on import.
"""

from ai_engine.cli import contract as contract  # contract check, schemas
from ai_engine.cli import forecast, models, ops
from ai_engine.cli import freqtrade as freqtrade  # freqtrade init
from ai_engine.cli import safety as safety  # propose, ess, account, fills, limits, state
from ai_engine.cli.common import app, main

__all__ = ["app", "forecast", "main", "models", "ops"]

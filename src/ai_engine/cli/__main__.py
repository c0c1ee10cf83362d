"""``python -m ai_engine.cli``."""

from ai_engine.cli import main

main()

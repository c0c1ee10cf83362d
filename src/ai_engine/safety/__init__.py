"""The safety layer: risk proposals, portfolio governance and a persistent emergency stop.

``SafetyDesk`` (desk.py) is the entry point; ``StateStore`` (store.py) holds its state in
SQLite or PostgreSQL; ``SafetyConfig`` (config.py) its limits. See docs/safety.md.
"""

from ai_engine.safety.config import SafetyConfig
from ai_engine.safety.desk import SafetyDesk
from ai_engine.safety.ledger import FillInput
from ai_engine.safety.proposal import ProposalInput
from ai_engine.safety.store import StateStore, default_state_url

__all__ = [
    "FillInput",
    "ProposalInput",
    "SafetyConfig",
    "SafetyDesk",
    "StateStore",
    "default_state_url",
]

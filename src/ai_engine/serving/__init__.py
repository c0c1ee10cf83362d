"""The serving data plane (no web framework): routing a series to its engine, making its signal
or forecast, and the running objects beside them. Every edge (service, CLI, freqtrade, the
retraining gate) goes through ``Signals``."""

from ai_engine.serving.router import EngineSource, LocalEngines, Router, series_view
from ai_engine.serving.signals import Observer, Signals

__all__ = ["EngineSource", "LocalEngines", "Observer", "Router", "Signals", "series_view"]

"""quantum-ai-engine: OHLCV candles in, four forecasters, one consensus BUY/SELL/HOLD signal out.

The public API. Importing it loads no torch, xgboost, lightgbm or fastapi: model families are
imported on first use.
"""

from ai_engine.data import Candles, ValidationSettings, load_candles, make_candles
from ai_engine.engine import Engine
from ai_engine.ensemble import EnsembleSettings, Signal
from ai_engine.errors import (
    AIEngineError,
    BundleError,
    ConfigError,
    ConsensusError,
    DataValidationError,
    FeatureSpecMismatchError,
    RegistryError,
)
from ai_engine.registry import Registry
from ai_engine.training import TrainingPlan, make_plan, train

__all__ = [
    "AIEngineError",
    "BundleError",
    "Candles",
    "ConfigError",
    "ConsensusError",
    "DataValidationError",
    "Engine",
    "EnsembleSettings",
    "FeatureSpecMismatchError",
    "Registry",
    "RegistryError",
    "Signal",
    "TrainingPlan",
    "ValidationSettings",
    "load_candles",
    "make_candles",
    "make_plan",
    "train",
]
__version__ = "0.1.0"

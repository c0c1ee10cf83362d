"""Features: the versioned FeatureSpec and the v1 feature set the models are trained on."""

from ai_engine.features.dataset import (
    ModelInputs,
    candle_inputs,
    latest_inputs,
    model_inputs,
    training_data,
    usable_rows,
)
from ai_engine.features.spec import FeatureSpec
from ai_engine.features.v1 import SPEC_V1, BarFeatures, compute, return_windows, targets

CURRENT_SPEC: FeatureSpec = SPEC_V1

__all__ = [
    "CURRENT_SPEC",
    "SPEC_V1",
    "BarFeatures",
    "FeatureSpec",
    "ModelInputs",
    "candle_inputs",
    "compute",
    "latest_inputs",
    "model_inputs",
    "return_windows",
    "targets",
    "training_data",
    "usable_rows",
]

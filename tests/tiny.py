"""Tiny per-family hyperparameters so that tests train all four members in seconds."""

from __future__ import annotations

from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "xgboost": {"max_rounds": 30},
    "lightgbm": {"max_rounds": 30},
    "nhits": {"mlp_units": [32, 32], "max_epochs": 2, "batch_size": 64},
    "patchtst": {
        "d_model": 16,
        "n_heads": 2,
        "n_layers": 1,
        "d_ff": 32,
        "max_epochs": 2,
        "batch_size": 64,
    },
}

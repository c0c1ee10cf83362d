"""Evaluation: out-of-fold forecasts -> combination, edge verdict, decision rule, intervals.

Sits between the models and the registry: ``training`` fits members on inner folds, hands
their out-of-fold forecasts to ``evaluate`` and stores the resulting ``Evidence`` in the
release; the engine and the backtest apply it.
"""

from ai_engine.evaluation.decision import Costs, DecisionRule
from ai_engine.evaluation.evidence import Evidence, evaluate
from ai_engine.evaluation.oof import OutOfFold, out_of_fold
from ai_engine.evaluation.verdict import EvaluationSettings

__all__ = [
    "Costs",
    "DecisionRule",
    "EvaluationSettings",
    "Evidence",
    "OutOfFold",
    "evaluate",
    "out_of_fold",
]

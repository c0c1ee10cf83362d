"""Walk-forward backtest: is the signal any good, measured without look-ahead.

``run_backtest(candles, plan, settings)`` fits every fold on bars before its cut-off only,
forecasts the fold's test bars, scores members, ensemble and baselines on the same bars, and
simulates trading the signals after fees and slippage. ``write_report`` writes report.json,
report.html (charts embedded) and bars.csv.
"""

from ai_engine.backtest.runner import BacktestResult, run_backtest
from ai_engine.backtest.walkforward import BacktestSettings, Fold, Layout, plan_folds

__all__ = [
    "BacktestResult",
    "BacktestSettings",
    "Fold",
    "Layout",
    "plan_folds",
    "run_backtest",
]

"""Replay a release over every bar of a candle frame, with no training.

For each bar ``t`` the signal is the one ``/v1/signal`` would have answered at ``t`` given the
candles up to ``t`` (features are causal, so computing them once over the frame equals
computing them on each prefix); the members predict all bars in a few batched calls, then each
bar goes through the same per-row decision as the walk-forward backtest (``fold_signals``).
Bars with less history than the release needs are ``REFUSED`` (``too_few_candles``), as the
service refuses them. The positions are those the release's rule takes on these signals
(hysteresis and minimum hold); a release without a rule follows each bar's action.

Used by ``ai-engine backtest --release`` and by the freqtrade strategy, so both sides of the
comparison run one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ai_engine.backtest.signals import REFUSED, fold_signals, member_answers
from ai_engine.data import Candles
from ai_engine.engine import Engine
from ai_engine.ensemble import combine
from ai_engine.errors import ConsensusError
from ai_engine.evaluation.decision import positions
from ai_engine.features import ModelInputs, model_inputs, usable_rows

ENTRY = {"BUY": 1, "SELL": -1}
TOO_FEW = "too_few_candles"
CHUNK = 2048
"""Rows per predict call: bounds the memory of the sequence models' batches."""


@dataclass(frozen=True)
class Replay:
    """Per bar of the frame ``(n,)``: action, reason, expected return, the rule's position."""

    release: str
    timestamps: pd.DatetimeIndex
    actions: np.ndarray
    reasons: np.ndarray
    expected: np.ndarray
    positions: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Columns date, action, reason, expected_return, position (one row per bar)."""
        return pd.DataFrame(
            {
                "date": self.timestamps,
                "action": self.actions,
                "reason": self.reasons,
                "expected_return": self.expected,
                "position": self.positions.astype(int),
            }
        )

    def counts(self) -> dict[str, int]:
        """Bars per action."""
        return {a: int(np.sum(self.actions == a)) for a in ("BUY", "SELL", "HOLD", REFUSED)}

    def summary(self) -> dict[str, Any]:
        """Release, bars, action counts and HOLD reasons (JSON-able)."""
        held = self.reasons[self.actions == "HOLD"]
        names, counts = np.unique(held, return_counts=True)
        return {
            "release": self.release,
            "bars": len(self.actions),
            "start": str(self.timestamps[0]) if len(self.timestamps) else None,
            "end": str(self.timestamps[-1]) if len(self.timestamps) else None,
            "counts": self.counts(),
            "hold_reasons": {str(n): int(c) for n, c in zip(names, counts, strict=True)},
            "long_bars": int(np.sum(self.positions > 0)),
            "short_bars": int(np.sum(self.positions < 0)),
        }


def member_forecasts(engine: Engine, inputs: ModelInputs) -> dict[str, np.ndarray]:
    """Every member's forecasts ``{family: (k, H)}`` for all rows; NaN rows for an unhealthy
    member (the decision then treats it as unhealthy, as the engine does)."""
    out: dict[str, np.ndarray] = {}
    for member in engine.members:
        values = np.full((len(inputs), engine.spec.horizon), np.nan)
        if member.bundle is not None:
            model = member.bundle.model
            batch = inputs.of_kind(model.input_kind)
            for start in range(0, len(inputs), CHUNK):
                values[start : start + CHUNK] = model.predict(batch[start : start + CHUNK])
        out[member.family] = values
    return out


def replay_signals(engine: Engine, candles: Candles) -> Replay:
    """The release's signal and rule position at every bar of ``candles`` (causal, batched)."""
    frame = candles.frame
    n = len(frame)
    actions = np.full(n, REFUSED, dtype=object)
    reasons = np.full(n, TOO_FEW, dtype=object)
    expected = np.full(n, np.nan)
    rows = usable_rows(n, engine.spec, with_targets=False)
    if len(rows):
        inputs = model_inputs(frame, engine.spec, rows)
        forecasts = member_forecasts(engine, inputs)
        step = engine.settings.decision_horizon - 1
        if engine.evidence is None:
            acts, why, combined = _without_evidence(engine, forecasts, len(rows))
        else:
            log_close = np.log(frame["close"].to_numpy())
            signals = fold_signals(
                forecasts, inputs, engine.settings, engine.evidence, engine.release.id, log_close
            )
            acts, why, combined = signals.actions, signals.reasons, signals.combined
        actions[rows] = acts
        reasons[rows] = why
        expected[rows] = combined[:, step]
    return Replay(
        engine.release.id,
        pd.DatetimeIndex(frame.index),
        actions.astype(str),
        reasons.astype(str),
        expected,
        rule_positions(engine, actions, expected),
    )


def rule_positions(engine: Engine, actions: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Positions ``(n,)`` under the release's rule (as ``ensemble_positions`` in the
    walk-forward backtest); without a rule, each bar's action (BUY +1, SELL -1, else 0)."""
    entries = np.array([ENTRY.get(str(a), 0) for a in actions])
    rule = None if engine.evidence is None else engine.evidence.rule
    if rule is None:
        return entries.astype(float)
    return positions(np.nan_to_num(expected), entries, rule)


def _without_evidence(
    engine: Engine, forecasts: dict[str, np.ndarray], rows: int
) -> tuple[list[str], list[str], np.ndarray]:
    """Fixed weights and dead band (releases made before evidence): ``combine`` per row."""
    actions, reasons = [], []
    combined = np.full((rows, engine.spec.horizon), np.nan)
    for i in range(rows):
        try:
            signal = combine(
                member_answers(forecasts, i, engine.release.id),
                engine.settings,
                symbol="replay",
                timeframe="",
                as_of="",
                release=engine.release.id,
            )
        except ConsensusError:
            actions.append(REFUSED)
            reasons.append("below_quorum")
            continue
        actions.append(signal.action)
        reasons.append(signal.reason or "")
        combined[i] = signal.forecast
    return actions, reasons, combined


def replay_report(replay: Replay, candles: Candles, fee: float, slippage: float) -> dict[str, Any]:
    """The summary plus the rule's trading figures after ``fee + slippage`` per unit traded (a
    position held at bar t earns bar t + 1's return, as in the walk-forward backtest)."""
    from ai_engine.backtest.runner import clean
    from ai_engine.backtest.simulation import bars_per_year, performance, simulate

    close = candles.frame["close"].to_numpy()
    returns = close[1:] / close[:-1] - 1.0
    per_year, basis = bars_per_year(candles.timeframe, pd.DatetimeIndex(candles.frame.index))
    sim = simulate(replay.positions[:-1], returns, fee, slippage)
    return clean(
        {
            "kind": "ai-engine release replay",
            "data": {"symbol": candles.symbol, "timeframe": candles.timeframe},
            **replay.summary(),
            "costs": {"fee": fee, "slippage": slippage},
            "bars_per_year": per_year,
            "bars_per_year_basis": basis,
            "trading": performance(sim, per_year, fee, slippage),
        }
    )

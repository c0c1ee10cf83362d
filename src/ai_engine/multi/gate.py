"""Quality-gated retraining: a candidate replaces production only when it is not worse.

Both releases are replayed on the most recent ``holdout_bars`` bars of every symbol they both
cover, bar by bar as the engine would have answered (the backtest's ``fold_signals``), and
scored on the same rows:

- **error**: MAE of the combined 12-step forecast divided by the zero forecast's MAE (pooled
  over symbols). The candidate passes when its ratio is at most production's plus
  ``max_mae_increase`` (default 0.0: not worse at all).
- **edge**: mean net return per bar of following each bar's signal (BUY +1, SELL -1, HOLD 0,
  costs of the candidate's evidence). The candidate passes when it is at least production's
  minus ``max_net_loss`` (default 0.0 per bar).

A candidate that cannot reach consensus is refused before any scoring; with no production
release to compare with, the candidate is promoted. Each decision is written to
``<registry>/gates/<candidate id>.json`` (shown by ``ai-engine models show``) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ai_engine.data import Candles
from ai_engine.errors import AIEngineError, ConfigError
from ai_engine.evaluation.decision import Costs, net_returns
from ai_engine.features import model_inputs, targets
from ai_engine.registry import GATES, Registry, atomic_write_json

log = logging.getLogger("ai_engine.retrain")


@dataclass(frozen=True)
class GateSettings:
    """The held-out window and the documented thresholds (module docstring)."""

    holdout_bars: int = 500
    max_mae_increase: float = 0.0
    max_net_loss: float = 0.0

    def __post_init__(self) -> None:
        if self.holdout_bars < 50:
            raise ConfigError(f"--holdout-bars must be >= 50, found {self.holdout_bars}")
        if self.max_mae_increase < 0 or self.max_net_loss < 0:
            raise ConfigError("--max-mae-increase and --max-net-loss must be >= 0")


@dataclass(frozen=True)
class Score:
    """One release on the held-out window."""

    mae: float
    zero_mae: float
    net_per_bar: float
    rows: int
    trades: int

    @property
    def mae_ratio(self) -> float:
        return self.mae / self.zero_mae if self.zero_mae > 0 else 1.0


def window_rows(candles: Candles, holdout_bars: int, horizon: int) -> np.ndarray:
    """Bar numbers of the last ``holdout_bars`` bars whose ``horizon``-bar outcome is known."""
    end = len(candles.frame) - horizon
    return np.arange(max(end - holdout_bars, 0), end)


def score(release_ref: str, registry: Registry, data: Sequence[Candles], holdout: int) -> Score:
    """Replay a release on the window of each of ``data`` (candles of symbols it covers)."""
    from ai_engine.backtest.signals import fold_signals
    from ai_engine.serving import LocalEngines, Router

    router = Router(LocalEngines(registry, release_ref))
    loaded = router.source.require()
    loaded.check_consensus()
    errors, zero_errors, nets, trades = [], [], [], 0
    for candles in data:
        engine = router.route(candles.symbol, candles.timeframe, loaded.release.id)
        spec = engine.spec
        rows = window_rows(candles, holdout, spec.horizon)
        inputs = model_inputs(candles.frame, spec, rows)
        actual = targets(candles.frame["close"].to_numpy(), spec.horizon)[rows]
        forecasts = {
            m.family: m.bundle.model.predict(inputs.of_kind(m.bundle.model.input_kind))
            for m in engine.members
            if m.bundle is not None
        }
        log_close = np.log(candles.frame["close"].to_numpy())
        if engine.evidence is None:
            raise ConfigError(f"release {loaded.release.id} has no evidence; expected one")
        signals = fold_signals(
            forecasts, inputs, engine.settings, engine.evidence, engine.release.id, log_close
        )
        combined = np.nan_to_num(signals.combined)
        errors.append(np.abs(combined - actual).ravel())
        zero_errors.append(np.abs(actual).ravel())
        held = np.array([{"BUY": 1.0, "SELL": -1.0}.get(a, 0.0) for a in signals.actions])
        next_simple = np.expm1(log_close[rows + 1] - log_close[rows])
        costs: Costs = engine.evidence.costs
        nets.append(net_returns(held, next_simple, costs))
        trades += int(np.count_nonzero(np.diff(held, prepend=0.0)))
    all_nets = np.concatenate(nets)
    return Score(
        float(np.mean(np.concatenate(errors))),
        float(np.mean(np.concatenate(zero_errors))),
        float(np.mean(all_nets)),
        len(all_nets),
        trades,
    )


def _names(data: Sequence[Candles]) -> list[str]:
    """The series judged: their symbols, or ``SYMBOL@TF`` when they span timeframes."""
    from ai_engine.coverage import series_key

    if len({c.timeframe for c in data}) == 1:
        return sorted(c.symbol for c in data)
    return sorted(series_key(c.symbol, c.timeframe) for c in data)


def judge(
    registry: Registry,
    candidate: str,
    production: str | None,
    data: Sequence[Candles],
    settings: GateSettings,
) -> dict[str, Any]:
    """The gate's decision on ``candidate`` against ``production`` (ids), as JSON."""
    decision: dict[str, Any] = {
        "candidate": candidate,
        "production": production,
        "at": datetime.now(UTC).isoformat(),
        "settings": asdict(settings),
        "symbols": _names(data),
    }
    try:
        cand = score(candidate, registry, data, settings.holdout_bars)
    except AIEngineError as exc:
        return {**decision, "promoted": False, "reason": f"candidate unusable: {exc}"}
    decision["candidate_score"] = {**asdict(cand), "mae_ratio": cand.mae_ratio}
    if production is None:
        return {**decision, "promoted": True, "reason": "no production release to compare with"}
    prod = score(production, registry, data, settings.holdout_bars)
    decision["production_score"] = {**asdict(prod), "mae_ratio": prod.mae_ratio}
    worse: list[str] = []
    if cand.mae_ratio > prod.mae_ratio + settings.max_mae_increase:
        worse.append(
            f"error: MAE/zero {cand.mae_ratio:.4f} > production's {prod.mae_ratio:.4f} "
            f"+ {settings.max_mae_increase:g}"
        )
    if cand.net_per_bar < prod.net_per_bar - settings.max_net_loss:
        worse.append(
            f"edge: net {cand.net_per_bar:+.6f}/bar < production's {prod.net_per_bar:+.6f} "
            f"- {settings.max_net_loss:g}"
        )
    window = f"on the last {settings.holdout_bars} bars of {', '.join(decision['symbols'])}"
    if worse:
        return {
            **decision,
            "promoted": False,
            "reason": "worse " + window + ": " + "; ".join(worse),
        }
    return {
        **decision,
        "promoted": True,
        "reason": f"not worse {window}: MAE/zero {cand.mae_ratio:.4f} vs {prod.mae_ratio:.4f}, "
        f"net {cand.net_per_bar:+.6f} vs {prod.net_per_bar:+.6f} per bar",
    }


def record_decision(registry: Registry, decision: dict[str, Any]) -> Path:
    """Write the decision beside the registry's releases and log it."""
    path = registry.gates_dir / f"{decision['candidate']}.json"
    atomic_write_json(path, decision)
    log.log(
        logging.INFO if decision["promoted"] else logging.WARNING,
        "quality gate %s %s: %s",
        "promoted" if decision["promoted"] else "refused",
        decision["candidate"],
        decision["reason"],
        extra={"event": "quality_gate", "promoted": decision["promoted"]},
    )
    return path


def read_decision(registry: Registry | str | Path, release_id: str) -> dict[str, Any] | None:
    """The gate's recorded decision on a release, or None when it was never judged."""
    import json

    root = registry.root if isinstance(registry, Registry) else Path(registry)
    path = root / GATES / f"{release_id}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data

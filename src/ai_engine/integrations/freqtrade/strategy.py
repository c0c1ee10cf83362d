"""``AIEngineStrategy``: a freqtrade strategy that trades the engine's signals.

Backtesting and hyperopt (and every other mode without live candles): the release named in
``config["ai_engine"]`` is loaded in process and replayed over the whole dataframe with
``backtest.replay.replay_signals``: the signal of bar t from candles <= t only, equal to what
``/v1/signal`` answers at t, and the position the release's rule takes (hysteresis, minimum hold).
A release over several symbols (or timeframes) answers each pair from that series' own view, or
from the release its alias family routes the pair to, as the service does.

Dry-run and live: each new candle asks the service (``/v1/signal``, with a timeout). An error or
a refusal is logged and means no signal: no entry and no exit decision, never a default action.
The rule is stepped bar by bar (``live.rule_step``) on the signal's own ``decision``.

Columns: ``ai_action``, ``ai_reason``, ``ai_expected_return``, ``ai_position``. A long entry is a
BUY on a bar where the rule goes or stays long; the exit is the rule leaving the long (a short
likewise when ``can_short``). With ``ai_engine.safety`` the stake is the risk proposal's target
times the equity; ``confirm_trade_entry`` refuses in dry-run/live while the ESS is not ACTIVE,
and each filled order is booked on the service (``/v1/fills``, its exchange order id as
``fill_id``) with the trader key ``ai_engine.key``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from freqtrade.enums import RunMode
from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy

from ai_engine.backtest.replay import ENTRY, replay_signals
from ai_engine.data import Candles, make_candles, timeframe_delta
from ai_engine.engine import Engine
from ai_engine.errors import AIEngineError, ConfigError
from ai_engine.integrations.freqtrade.client import OHLCV, ServiceClient
from ai_engine.integrations.freqtrade.live import (
    RuleState,
    StrategySettings,
    rule_step,
    signal_rule,
)
from ai_engine.serving import LocalEngines, Router, Signals

logger = logging.getLogger(__name__)
LIVE_MODES = (RunMode.DRY_RUN, RunMode.LIVE)


class AIEngineStrategy(IStrategy):
    """Trades the engine's BUY/SELL signals under the release's position rule."""

    INTERFACE_VERSION = 3
    timeframe = "5m"
    can_short = False
    minimal_roi: ClassVar[dict[str, float]] = {"0": 100.0}  # exits: the engine's rule
    stoploss = -0.99
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = False
    process_only_new_candles = True
    startup_candle_count = 200  # the feature set's history (FeatureSpec v1 min_history)

    def bot_start(self, **kwargs: Any) -> None:
        """Read ``config["ai_engine"]``; load the release (replay) or set up the service client."""
        self.ai = StrategySettings.from_config(self.config.get("ai_engine", {}))
        self.engine: Engine | None = None
        self.client: ServiceClient | None = None
        self.rules: dict[str, RuleState] = {}
        self.signals: dict[str, dict[str, Any]] = {}
        self.told: set[str] = set()  # pairs whose all-HOLD replay was explained in the log
        if self.live:
            if not self.ai.service:
                raise ConfigError("dry-run and live need ai_engine.service (the service's URL)")
            self.client = ServiceClient(
                self.ai.service, self.ai.timeout, self.ai.release, self.ai.key
            )
            logger.info(
                "ai-engine: signals from %s (timeout %.1f s)", self.ai.service, self.ai.timeout
            )
            return
        if not self.ai.registry:
            raise ConfigError("backtesting needs ai_engine.registry (a registry folder)")
        self.plane = Signals(
            Router(LocalEngines(self.ai.registry, self.ai.release)), stale_check=False
        )
        self.engine = self.plane.router.source.require()
        release = self.engine.release  # one declaring symbols is checked per pair, routed
        if not release.symbols and (mismatch := self.engine.timeframe_error(self.timeframe)):
            raise ConfigError(mismatch)
        self.engine.check_consensus()
        logger.info("ai-engine: replaying release %s in process", self.engine.release.id)

    @property
    def live(self) -> bool:
        """Dry-run or live: candles arrive one by one and signals come from the service."""
        return self.dp is not None and self.dp.runmode in LIVE_MODES

    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """The engine's columns for every bar (replay) or for the last one (service)."""
        dataframe["ai_action"] = ""
        dataframe["ai_reason"] = ""
        dataframe["ai_expected_return"] = np.nan
        dataframe["ai_position"] = 0
        if dataframe.empty:
            return dataframe
        pair = metadata["pair"]
        if self.live:
            return self._from_service(dataframe, pair)
        return self._from_replay(dataframe, pair)

    def populate_entry_trend(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """Enter on a BUY (SELL) bar where the rule is long (short)."""
        action, position = dataframe["ai_action"], dataframe["ai_position"]
        dataframe["enter_long"] = ((action == "BUY") & (position > 0)).astype(int)
        if self.can_short:
            dataframe["enter_short"] = ((action == "SELL") & (position < 0)).astype(int)
        return dataframe

    def populate_exit_trend(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """Exit where the rule leaves the side; a bar without a signal decides nothing."""
        known, position = dataframe["ai_action"] != "", dataframe["ai_position"]
        dataframe["exit_long"] = (known & (position <= 0)).astype(int)
        if self.can_short:
            dataframe["exit_short"] = (known & (position >= 0)).astype(int)
        return dataframe

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        """With ``ai_engine.safety``: |target| × equity from the risk proposal (0: no trade)."""
        if not self.ai.safety:
            return proposed_stake
        equity = float(self.wallets.get_total_stake_amount()) if self.wallets else proposed_stake
        try:
            target = self._target(pair, equity, current_rate)
        except AIEngineError as exc:
            logger.warning("ai-engine: no entry for %s: risk proposal failed: %s", pair, exc)
            return 0.0
        if (target > 0) != (side == "long") or target == 0:
            logger.info("ai-engine: no entry for %s: risk proposal target %.4f", pair, target)
            return 0.0
        return float(min(abs(target) * equity, max_stake))

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> bool:
        """Dry-run/live: only while the service's emergency stop is ACTIVE (unknown: refuse)."""
        if self.client is None:
            return True
        try:
            state = self.client.ess_state()
        except AIEngineError as exc:
            logger.warning("ai-engine: no entry for %s: ESS state unknown: %s", pair, exc)
            return False
        if state != "ACTIVE":
            logger.warning("ai-engine: no entry for %s: ESS is %s", pair, state)
            return False
        return True

    def order_filled(
        self, pair: str, trade: Trade, order: Any, current_time: datetime, **kwargs: Any
    ) -> None:
        """Dry-run/live with ``ai_engine.safety``: book the filled order on the service; a
        failure is logged (the service's next report or a retry settles it)."""
        if self.client is None or not self.ai.safety:
            return
        stop = order.ft_order_side == "stoploss"
        side = str(trade.exit_side if stop else (order.side or order.ft_order_side)).upper()
        price, quantity = float(order.safe_price), float(order.safe_filled)
        fee = float(order.safe_fee_base or 0.0) * price  # base currency -> quote
        try:
            self.client.fill(pair, side, quantity, price, fee, str(order.order_id))
        except AIEngineError as exc:
            logger.warning("ai-engine: fill of %s (%s) not booked: %s", pair, order.order_id, exc)

    def _from_replay(self, dataframe: pd.DataFrame, pair: str) -> pd.DataFrame:
        if self.engine is None or not self.ai.registry:
            raise ConfigError("the strategy has no release loaded (bot_start did not run)")
        candles = self._candles(dataframe, pair)
        engine = self.plane.route(candles.symbol, candles.timeframe)
        if (mismatch := engine.timeframe_error(self.timeframe)) is not None:
            raise ConfigError(mismatch)
        replay = replay_signals(engine, candles)
        actions = np.asarray(replay.actions)
        if not np.isin(actions, ("BUY", "SELL")).any() and pair not in self.told:
            self.told.add(pair)  # freqtrade will say "No trades made": say why, once per pair
            held = actions == "HOLD"
            reasons, counts = np.unique(np.asarray(replay.reasons)[held], return_counts=True)
            why = ", ".join(f"{r or '-'} {n}" for r, n in zip(reasons, counts, strict=True))
            logger.warning(
                "ai-engine: %s: no BUY or SELL in %d bars (HOLD %s; %d without a signal), so "
                "the strategy enters nothing; %s",
                pair,
                len(actions),
                why or "none",
                int((~held).sum()),
                "no_edge: the release found no edge out of fold (ai-engine models show)"
                if "no_edge" in reasons
                else "see docs/edge.md for the reasons",
            )
        dataframe["ai_action"] = replay.actions
        dataframe["ai_reason"] = replay.reasons
        dataframe["ai_expected_return"] = replay.expected
        dataframe["ai_position"] = replay.positions.astype(int)
        if self.ai.signals_dir:
            folder = Path(self.ai.signals_dir)
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{pair.replace('/', '_').replace(':', '_')}-{self.timeframe}.csv"
            replay.to_frame().to_csv(folder / name, index=False)
        return dataframe

    def _from_service(self, dataframe: pd.DataFrame, pair: str) -> pd.DataFrame:
        if self.client is None:
            raise ConfigError("the strategy has no service client (bot_start did not run)")
        last = dataframe.index[-1]
        try:
            signal = self.client.signal(dataframe.tail(self.ai.candles), pair, self.timeframe)
        except AIEngineError as exc:
            self.signals.pop(pair, None)
            logger.warning(
                "ai-engine: no signal for %s at %s, so no entry and no exit decision: %s",
                pair,
                dataframe["date"].iloc[-1],
                exc,
            )
            return dataframe
        state = self.rules.get(pair) or self._seed_state(pair, dataframe["date"].iloc[-1])
        self.rules[pair] = state
        action = str(signal.get("action", ""))
        expected = float(signal.get("expected_return") or 0.0)
        position = rule_step(state, expected, ENTRY.get(action, 0), signal_rule(signal))
        self.signals[pair] = signal
        dataframe.loc[last, "ai_action"] = action
        dataframe.loc[last, "ai_reason"] = signal.get("reason") or ""
        dataframe.loc[last, "ai_expected_return"] = expected
        dataframe.loc[last, "ai_position"] = position
        logger.info(
            "ai-engine: %s %s (%s) expected %.5f position %d",
            pair,
            action,
            signal.get("reason") or "-",
            expected,
            position,
        )
        return dataframe

    def _seed_state(self, pair: str, candle: Any) -> RuleState:
        """After a restart: the open trade's side, held since its entry candle."""
        trades = Trade.get_trades_proxy(pair=pair, is_open=True)
        if not trades:
            return RuleState()
        trade = trades[0]
        bar = timeframe_delta(self.timeframe)
        held = max(0, int((pd.Timestamp(candle) - pd.Timestamp(trade.open_date_utc)) / bar) + 1)
        return RuleState(-1 if trade.is_short else 1, held)

    def _candles(self, dataframe: pd.DataFrame, pair: str) -> Candles:
        frame = dataframe.set_index("date")[list(OHLCV)].astype(float)
        frame.index.name = "date"
        return make_candles(frame, pair, self.timeframe)

    def _target(self, pair: str, equity: float, rate: float) -> float:
        """The proposal's target (signed fraction of equity) for the last signal of ``pair``."""
        if self.client is not None:
            signal = self.signals.get(pair)
            if signal is None:
                raise ConfigError(f"no signal for {pair} to size")
            return float(self.client.proposal(signal, equity, rate)["target"])
        from ai_engine.safety.config import SafetyConfig, default_config_path
        from ai_engine.safety.sizing import size

        if self.engine is None or self.dp is None:
            raise ConfigError("the strategy has no release loaded (bot_start did not run)")
        path = self.ai.safety_config or default_config_path(Path(self.ai.registry or "."))
        config = SafetyConfig.load(path)
        frame, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        candles = self._candles(frame.tail(self.ai.candles), pair)
        _, made = self.plane.signal_now(candles)  # routed: the pair's own series
        target = size(made.to_json(), config.sizing).target
        cap = config.limits.max_position
        return float(np.clip(target, -cap, cap))

"""Micro-batching: the requests waiting at the same moment share one predict call per model.

A request's own work (parsing, validating, features) runs as it comes; its model inputs then
wait a couple of event-loop turns so that the other requests already being handled can join,
and one ``Engine.forecasts_many`` call answers them all. With one request at a time this adds
two loop turns (microseconds); under load it saves most of the per-call cost of the four
models. Requests are grouped by engine, so a swap in the middle never mixes releases.

``window_forecasts`` also remembers the model inputs and forecasts of the last
``window_entries`` candle windows per release, symbol and timeframe: a window sent again
(several bots or replicas polling the same symbol within one bar, a client's retry) skips the
features and the models. The key is a digest of the window's timestamps and OHLCV values, so a
window that differs in any value is computed afresh. Each entry also keeps the window's
``WindowMemo`` (``Engine.signal_from``: OOD verdict, unstamped decisions by their gates); the
stale check against the wall clock and the stamps are always made anew.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import numpy as np

from ai_engine.data import Candles
from ai_engine.engine import Engine, WindowMemo
from ai_engine.ensemble import MemberForecast
from ai_engine.features import ModelInputs, candle_inputs
from ai_engine.serving.lru import Recent

Waiting = tuple[Engine, ModelInputs, "asyncio.Future[list[MemberForecast]]"]
Computed = tuple[ModelInputs, list[MemberForecast], WindowMemo | None]
"""Model inputs, every member's forecast, and the window's memo (None: not remembered)."""


def window_digest(candles: Candles) -> bytes:
    """The SHA-256 digest of the window's timestamps and OHLCV values (what features read)."""
    plain = candles.plain
    values = plain[1] if plain is not None else candles.frame.to_numpy(np.float64)
    digest = hashlib.sha256(candles.times_ns.tobytes())
    digest.update(values.tobytes())  # row-major bytes, whatever the layout: arrays and frame alike
    return digest.digest()


class ForecastBatcher:
    """Collects model inputs for a moment, then predicts them together, per engine."""

    def __init__(
        self,
        max_batch: int = 64,
        turns: int = 2,
        on_batch: Callable[[int], object] | None = None,
        window_entries: int = 0,
        on_window: Callable[[bool], object] | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.turns = turns
        self.on_batch = on_batch
        self.window_entries = window_entries
        self.on_window = on_window
        self._waiting: list[Waiting] = []
        self._flush_task: asyncio.Task[None] | None = None
        self._windows: Recent[tuple[str, str, str, bytes], Computed] = Recent(window_entries)

    async def window_forecasts(
        self,
        engine: Engine,
        candles: Candles,
        digest: bytes | None = None,
        *,
        remember: bool = True,
    ) -> Computed:
        """``latest_inputs`` of ``candles``, every member's forecast for their last bar and
        the window's ``WindowMemo``, remembered for the window's next arrival (when
        ``window_entries`` > 0 and ``remember``; else the memo is None). ``digest``:
        ``window_digest(candles)`` when the caller knows it already. The stream passes
        ``remember=False``: its windows do not come again, and would push out those that do."""
        if self.window_entries < 1 or not remember:
            inputs = candle_inputs(candles, engine.spec)
            return inputs, await self.forecasts(engine, inputs), None
        digest = window_digest(candles) if digest is None else digest
        key = (engine.release.id, candles.symbol, candles.timeframe, digest)
        known = self._windows.get(key)
        if self.on_window is not None:
            self.on_window(known is not None)
        if known is not None:
            return known[0], list(known[1]), known[2]  # a caller's list never reaches the cache
        inputs = candle_inputs(candles, engine.spec)
        forecasts = await self.forecasts(engine, inputs)
        memo = WindowMemo()
        self._windows.put(key, (inputs, forecasts, memo))
        return inputs, list(forecasts), memo

    async def forecasts(self, engine: Engine, inputs: ModelInputs) -> list[MemberForecast]:
        """Every member's forecast for ``inputs`` (one candle set's last bar)."""
        future: asyncio.Future[list[MemberForecast]] = asyncio.get_running_loop().create_future()
        self._waiting.append((engine, inputs, future))
        if self._flush_task is None:
            self._flush_task = asyncio.ensure_future(self._flush_soon())
        return await future

    async def _flush_soon(self) -> None:
        try:
            for _ in range(self.turns):  # let requests that are already running join
                await asyncio.sleep(0)
        finally:
            self._flush_task = None
            waiting, self._waiting = self._waiting, []
            self._run(waiting)

    def _run(self, waiting: list[Waiting]) -> None:
        groups: dict[int, list[Waiting]] = {}
        for item in waiting:
            groups.setdefault(id(item[0]), []).append(item)
        for group in groups.values():
            for start in range(0, len(group), self.max_batch):
                self._predict(group[start : start + self.max_batch])

    def _predict(self, chunk: list[Waiting]) -> None:
        engine = chunk[0][0]
        try:
            results = engine.forecasts_many([inputs for _, inputs, _ in chunk])
        except Exception as exc:  # the same error each request would have met alone
            for _, _, future in chunk:
                if not future.done():
                    future.set_exception(exc)
            return
        if self.on_batch is not None:
            self.on_batch(len(chunk))
        for (_, _, future), forecasts in zip(chunk, results, strict=True):
            if not future.done():  # a client that went away cancelled its future
                future.set_result(forecasts)

"""Micro-batching: the requests waiting at the same moment share one predict call per model.

A request's own work (parsing, validating, features) runs as it comes; its model inputs then
wait a couple of event-loop turns so that the other requests already being handled can join,
and one ``Engine.forecasts_many`` call answers them all. With one request at a time this adds
two loop turns (microseconds); under load it saves most of the per-call cost of the four
models. Requests are grouped by engine, so a swap in the middle never mixes releases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ai_engine.engine import Engine
from ai_engine.ensemble import MemberForecast
from ai_engine.features import ModelInputs

Waiting = tuple[Engine, ModelInputs, "asyncio.Future[list[MemberForecast]]"]


class ForecastBatcher:
    """Collects model inputs for a moment, then predicts them together, per engine."""

    def __init__(
        self, max_batch: int = 64, turns: int = 2, on_batch: Callable[[int], object] | None = None
    ) -> None:
        self.max_batch = max_batch
        self.turns = turns
        self.on_batch = on_batch
        self._waiting: list[Waiting] = []
        self._flush_task: asyncio.Task[None] | None = None

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

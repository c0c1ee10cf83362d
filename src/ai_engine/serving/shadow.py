"""The shadow release: a second alias computed beside the served one, never answering.

With ``AI_ENGINE_SHADOW=<alias>`` the service keeps that alias's release loaded in an
``EngineHolder`` of its own (watched and reloaded like the served one). Every /v1/signal answer
is handed, after it is made, to one worker thread: it computes the shadow's signal for the same
candles, logs both (one ``shadow`` JSON line), keeps both forecasts pending in an
``OutcomeBook`` and scores earlier pending forecasts that the new candles reveal. The answer is
never touched: the worker only reads it, and a full queue drops the job (counted) rather than
wait. A missing or broken shadow alias is logged and shown by /v1/models; serving goes on.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import Counter

from ai_engine.data import Candles
from ai_engine.engine import Engine
from ai_engine.errors import AIEngineError, ConfigError
from ai_engine.serving import Router, Signals
from ai_engine.serving.holder import EngineHolder
from ai_engine.serving.metrics import LOGGER_NAME, Metrics
from ai_engine.serving.outcomes import Forecast, OutcomeBook, OutcomeMetrics
from ai_engine.serving.settings import ServiceSettings

log = logging.getLogger(LOGGER_NAME)
OUTCOMES = ("ok", "failed", "skipped", "dropped")


@dataclass(frozen=True)
class ShadowStatus:
    """The shadow's state for /v1/models."""

    alias: str
    release: str | None
    error: str | None
    pending: int
    computed: int
    failed: int
    skipped: int
    dropped: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Job:
    candles: Candles
    served: dict[str, Any]


class ShadowRunner:
    """Computes, logs and scores the shadow alias's signals off the request path."""

    def __init__(self, settings: ServiceSettings, metrics: Metrics) -> None:
        if settings.shadow is None:
            raise ConfigError("a shadow runner expects an alias in AI_ENGINE_SHADOW, found none")
        self.alias = settings.shadow
        self.holder = EngineHolder(settings.registry, self.alias, None, settings.pinned_cache)
        self.plane = Signals(Router(self.holder), stale_check=settings.stale_check)
        """The shadow alias's own data plane: the same routing as the served answers."""
        self.book = OutcomeBook(settings.shadow_pending, OutcomeMetrics(metrics.registry))
        self.signals = Counter(
            "ai_engine_shadow_signals",
            "Shadow signals by outcome: ok, failed, skipped (no shadow release for the "
            "symbol), dropped (worker queue full).",
            ["outcome"],
            registry=metrics.registry,
        )
        for outcome in OUTCOMES:
            self.signals.labels(outcome)
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=settings.shadow_queue)
        self._thread: threading.Thread | None = None
        self._logged_error: str | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, watch_interval_s: float) -> None:
        """Load the shadow alias (and watch it), and start the worker."""
        self.holder.start(watch_interval_s)
        self._thread = threading.Thread(target=self._run, name="ai-engine-shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the worker (after the jobs queued) and the alias watcher."""
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout_s)
            self._thread.join(timeout_s)
        self.holder.stop(timeout_s)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every job submitted so far is done (for tests and tools)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    # ---- the request side --------------------------------------------------------------
    def submit(self, candles: Candles, served: dict[str, Any]) -> None:
        """Hand an answered request to the worker; never blocks (a full queue drops it)."""
        try:
            self._queue.put_nowait(_Job(candles, served))
        except queue.Full:
            self._count("dropped")

    def realised(self) -> list[dict[str, Any]]:
        """Production's and the shadow's realised errors so far (``OutcomeMetrics.summary``)."""
        metrics = self.book.metrics
        return [] if metrics is None else metrics.summary()

    def status(self) -> ShadowStatus:
        """What the shadow serves, why not, and what the worker did."""
        return ShadowStatus(
            alias=self.alias,
            release=self.holder.release_id,
            error=self.holder.error,
            pending=len(self.book),
            computed=self.counts["ok"],
            failed=self.counts["failed"],
            skipped=self.counts["skipped"],
            dropped=self.counts["dropped"],
        )

    # ---- the worker --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._process(job)
            except Exception:  # the worker must never die
                log.exception("shadow job failed", extra={"event": "shadow_error"})
            finally:
                self._queue.task_done()

    def _process(self, job: _Job) -> None:
        candles, served = job.candles, job.served
        self.book.score(candles)
        forecasts = [
            Forecast("served", served["release"], served["horizon"], served["expected_return"])
        ]
        shadow, why = self._shadow_signal(candles)
        if shadow is not None:
            forecasts.append(
                Forecast("shadow", shadow["release"], shadow["horizon"], shadow["expected_return"])
            )
        self.book.add(candles.symbol, candles.timeframe, candles.times_ns[-1], forecasts)
        self.book.update_gauge()
        log.info(
            "shadow",
            extra={
                "event": "shadow",
                "symbol": candles.symbol,
                "timeframe": candles.timeframe,
                "as_of": served["as_of"],
                "served": _brief(served),
                "shadow": None if shadow is None else _brief(shadow),
                "shadow_alias": self.alias,
                "shadow_reason": why,
            },
        )

    def _shadow_signal(self, candles: Candles) -> tuple[dict[str, Any] | None, str | None]:
        """The shadow's signal JSON, or None and why there is none."""
        engine, why = self._engine_for(candles)
        if engine is None:
            self._count("skipped")
            return None, why
        try:
            if len(candles) < engine.required_candles:
                self._count("skipped")
                return None, (
                    f"release {engine.release.id} needs {engine.required_candles} candles, "
                    f"the request has {len(candles)}"
                )
            signal = self.plane.signal_of(engine, candles).to_json()
        except Exception as exc:  # a failing shadow must not reach the served answers
            self._count("failed")
            return None, f"{type(exc).__name__}: {exc}"
        self._count("ok")
        return signal, None

    def _engine_for(self, candles: Candles) -> tuple[Engine | None, str | None]:
        """The shadow engine for the candles' symbol (the alias's release, else its
        ``<alias>@<model_set>`` releases), or None and why."""
        engine = self.holder.engine
        if engine is None:
            why = f"shadow alias {self.alias!r} not loaded: {self.holder.error}"
            if why != self._logged_error:
                self._logged_error = why
                log.warning(why, extra={"event": "shadow_unavailable", "alias": self.alias})
            return None, why
        self._logged_error = None
        symbol, timeframe = candles.symbol, candles.timeframe
        try:
            routed = self.plane.route(symbol, timeframe)
        except AIEngineError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if routed.timeframe_error(timeframe) is not None:
            return None, f"no release of shadow alias {self.alias!r} covers {symbol} {timeframe}"
        return routed, None

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self.signals.labels(outcome).inc()


def _brief(signal: dict[str, Any]) -> dict[str, Any]:
    """The part of a signal the shadow log line keeps."""
    return {
        key: signal.get(key)
        for key in ("release", "action", "expected_return", "confidence", "horizon", "reason")
    }

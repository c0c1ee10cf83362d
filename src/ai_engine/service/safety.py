"""The safety layer inside the service: its desk, metrics, periodic monitor and routes.

``install_safety`` adds the routers and a 503 handler for StateStoreError; ``start`` (called by
the app's lifespan, before anything is served) migrates the state store and reads the ESS, so
a service whose state store is unusable does not start. The monitor thread checks the
periodic triggers (release below quorum, stale candles) every ``ess.check_interval_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge

from ai_engine.coverage import covered
from ai_engine.errors import IdempotencyConflict, OwnershipConflict, StateStoreError
from ai_engine.safety import SafetyConfig, SafetyDesk, StateStore, default_state_url
from ai_engine.safety.config import default_config_path
from ai_engine.safety.ess import SEVERITY, EssStatus, Transition
from ai_engine.safety.positions import PositionBook
from ai_engine.service.observability import LOGGER_NAME, Metrics
from ai_engine.serving import Router
from ai_engine.serving.holder import EngineHolder
from ai_engine.serving.settings import ServiceSettings

log = logging.getLogger(LOGGER_NAME)


class SafetyMetrics:
    """ESS transitions and state, proposals by status, adjustments by reason code."""

    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.transitions = Counter(
            "ai_engine_ess_transitions",
            "Emergency-stop transitions, by from/to state and trigger.",
            ["from_state", "to_state", "trigger"],
            registry=r,
        )
        self.state = Gauge(
            "ai_engine_ess_state",
            "1 for the emergency stop's current state.",
            ["state"],
            registry=r,
        )
        self.proposals = Counter(
            "ai_engine_risk_proposals", "Risk proposals, by status.", ["status"], registry=r
        )
        self.adjustments = Counter(
            "ai_engine_risk_adjustments",
            "Proposal adjustments, by reason code.",
            ["code"],
            registry=r,
        )

    def transition(self, move: Transition) -> None:
        self.transitions.labels(move.from_state or "NONE", move.to_state, move.trigger).inc()
        self.observe(move.to_state)
        log.warning(
            "ess transition",
            extra={"event": "ess_transition", **move.to_json()},
        )

    def observe(self, state: str) -> None:
        for name in SEVERITY:
            self.state.labels(name).set(1 if name == state else 0)


@dataclass
class SafetyService:
    """The desk and what runs beside it in one service process."""

    desk: SafetyDesk
    metrics: SafetyMetrics
    holder: EngineHolder
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    book: PositionBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = PositionBook(self.desk.store, self.desk.clock)

    def start(self) -> EssStatus:
        """Migrate, read the ESS (fails the startup when the store is unusable), start watching."""
        status = self.desk.start()
        self.metrics.observe(status.state)
        log.info("ess at startup", extra={"event": "ess_startup", **status.to_json()})
        for diff in self.book.reconcile():
            log.warning(
                "position differs from the last report",
                extra={"event": "position_difference", **diff},
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ai-engine-safety", daemon=True)
        self._thread.start()
        return status

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.desk.store.dispose()

    def _run(self) -> None:
        interval = self.desk.config.ess.check_interval_s
        while not self._stop.wait(interval):
            try:
                if self.holder.last_reload is None:
                    continue  # still loading: no verdict on the quorum yet
                status = self.desk.check_monitors(*self.holder.readiness())
                self.metrics.observe(status.state)
            except Exception:  # the monitor must never die; a store outage is logged
                log.exception("safety monitor failed", extra={"event": "safety_monitor_error"})


def known_symbols(router: Router) -> Callable[[], set[str]]:
    """The symbols a signal can be asked for: those the routing covers (the served release's
    and every aliased release's), also while the served release is still loading."""

    def known() -> set[str]:
        engine = router.source.engine
        found = set(covered(engine.release)) if engine is not None else set()
        for entry in router.coverage():
            found.update(entry.symbols)
        return found

    return known


def install_safety(
    app: FastAPI, settings: ServiceSettings, metrics: Metrics, holder: EngineHolder, router: Router
) -> SafetyService:
    """Build the desk from the settings and its error handlers; ``start`` it in the lifespan.
    (The app includes the safety routes: this module imports none of them.)"""
    config = SafetyConfig.load(settings.safety_config or default_config_path(settings.registry))
    store = StateStore(settings.state_url or default_state_url(settings.registry))
    safety_metrics = SafetyMetrics(metrics)
    desk = SafetyDesk(store, config, known_symbols(router), on_transition=safety_metrics.transition)
    service = SafetyService(desk, safety_metrics, holder)
    app.state.safety = service

    @app.exception_handler(OwnershipConflict)
    @app.exception_handler(IdempotencyConflict)
    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        name = type(exc).__name__
        return JSONResponse({"error": f"{name}: {exc}", "detail": []}, status_code=409)

    @app.exception_handler(StateStoreError)
    async def store_unavailable(request: Request, exc: StateStoreError) -> JSONResponse:
        log.error("state store error", extra={"event": "state_store_error", "error": str(exc)})
        return JSONResponse({"error": f"StateStoreError: {exc}", "detail": []}, status_code=503)

    return service


async def get_safety(request: Request) -> SafetyService:
    safety: SafetyService = request.app.state.safety
    return safety


Safety = Annotated[SafetyService, Depends(get_safety)]

"""The hot-swappable engine: load and verify a release off the request path, then swap atomically.

``EngineHolder.engine`` is one attribute read: a request takes the engine once and finishes on
it even if a reload swaps in another meanwhile. A reload resolves the served reference (an
alias such as ``production``, or a release id) to a release id, loads every member through all
bundle checks and requires consensus; only then is the new engine swapped in. When any step
fails, the old engine keeps serving and the failure is kept in ``last_reload`` (shown by
``/v1/models``) and counted in the metrics. A watcher thread polls the alias file and reloads
when it points at another release.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ai_engine.engine import Engine
from ai_engine.errors import (
    AIEngineError,
    ConsensusError,
    EngineUnavailable,
    NotFound,
    PromotionRefused,
    RegistryError,
)
from ai_engine.registry import Registry
from ai_engine.serving.metrics import LOGGER_NAME, Metrics

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload attempt did."""

    ok: bool
    swapped: bool
    trigger: str
    requested: str
    release: str | None
    previous: str | None
    serving: str | None
    reason: str | None
    at: str
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class EngineHolder:
    """The served Engine, swapped only for a fully verified release."""

    def __init__(
        self,
        registry: str | Path,
        reference: str,
        metrics: Metrics | None = None,
        pinned_cache: int = 4,
        torch_compile: bool = False,
    ) -> None:
        self.root = Path(registry)
        self.torch_compile = torch_compile
        """Compile the served release's PyTorch members for one-row predictions after loading
        (``AI_ENGINE_TORCH_COMPILE``; releases asked for with ``?release=`` stay eager)."""
        self.reference = reference
        self.metrics = metrics
        self.pinned_cache = pinned_cache
        self.last_reload: ReloadOutcome | None = None
        self.loaded_at: str | None = None
        self.alias_checks = 0
        """How many times ``check_alias`` has looked at the alias (the watcher's heartbeat)."""
        self._engine: Engine | None = None
        self._error = f"loading {reference!r} from registry {self.root}"
        self._failed_target: str | None = None
        self._reload_lock = threading.Lock()
        self._pinned: OrderedDict[str, Engine] = OrderedDict()
        self._pinned_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- reading -----------------------------------------------------------------------
    @property
    def engine(self) -> Engine | None:
        return self._engine

    @property
    def release_id(self) -> str | None:
        engine = self._engine
        return engine.release.id if engine is not None else None

    @property
    def error(self) -> str | None:
        """Why nothing is served, or None when a release is loaded."""
        return None if self._engine is not None else self._error

    def require(self) -> Engine:
        """The served engine, or EngineUnavailable saying why there is none."""
        engine = self._engine
        if engine is None:
            raise EngineUnavailable(self._error)
        return engine

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): ready only while the served release reaches consensus."""
        engine = self._engine
        if engine is None:
            return False, f"no release loaded: {self._error}"
        try:
            engine.check_consensus()
        except ConsensusError as exc:
            return False, f"release {engine.release.id}: ConsensusError: {exc}"
        return True, (
            f"release {engine.release.id}: {engine.healthy_count}/{len(engine.members)} "
            f"members healthy, quorum {engine.settings.min_consensus}"
        )

    @property
    def watching(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- pinned releases ---------------------------------------------------------------
    def cached_engine(self, reference: str | None) -> Engine | None:
        """The engine for ``reference`` without touching the disk, or None when it needs a look."""
        engine = self._engine
        if reference is None:
            return self.require()
        if engine is not None and reference == engine.release.id:
            return engine
        with self._pinned_lock:
            return self._pinned.get(reference)

    def engine_for(self, reference: str) -> Engine:
        """The engine of a release id or alias: the served one, a cached one, or freshly loaded."""
        try:
            release_id = Registry(self.root).resolve(reference).id
        except RegistryError as exc:
            raise NotFound(str(exc)) from exc
        engine = self._engine
        if engine is not None and engine.release.id == release_id:
            return engine
        with self._pinned_lock:
            if release_id in self._pinned:
                self._pinned.move_to_end(release_id)
                return self._pinned[release_id]
        loaded = Engine.load(self.root, release_id)
        with self._pinned_lock:
            self._pinned[release_id] = loaded
            while len(self._pinned) > self.pinned_cache:
                self._pinned.popitem(last=False)
        return loaded

    # ---- reloading ---------------------------------------------------------------------
    def _load_served(self, registry: Registry, release_id: str) -> Engine:
        """A release to serve: loaded and verified, then compiled when ``torch_compile``."""
        engine = Engine.load(registry, release_id)
        if self.torch_compile:
            start = time.perf_counter()
            outcome = engine.compile_predict()
            log.info(
                "compiled %s for one-row predictions in %.1f s: %s",
                release_id,
                time.perf_counter() - start,
                ", ".join(f"{f} {why or 'compiled'}" for f, why in outcome.items()) or "nothing",
                extra={"event": "torch_compile", "release": release_id},
            )
        return engine

    def reload(self, trigger: str = "api") -> ReloadOutcome:
        """Load and verify the served reference, swap it in when it reaches consensus."""
        with self._reload_lock:
            return self._reload(trigger)

    def promote(self, reference: str, alias: str) -> tuple[str, str | None, ReloadOutcome | None]:
        """Verify a release, then point ``alias`` at it; swap it in when ``alias`` is served.

        Returns (release id, previous release of the alias, reload outcome or None).
        """
        with self._reload_lock:
            registry = Registry(self.root)
            try:
                release_id = registry.resolve(reference).id
            except RegistryError as exc:
                raise NotFound(str(exc)) from exc
            engine = self._load_served(registry, release_id)
            try:
                engine.check_consensus()
            except ConsensusError as exc:
                raise PromotionRefused(
                    f"release {release_id} not promoted to {alias!r}: ConsensusError: {exc}"
                ) from exc
            previous = registry.aliases().get(alias)
            registry.promote(release_id, alias)
            outcome = None
            if alias == self.reference:
                outcome = self._reload("promote", preloaded=engine)
            return release_id, previous.release if previous else None, outcome

    def _reload(self, trigger: str, preloaded: Engine | None = None) -> ReloadOutcome:
        start = time.perf_counter()
        previous = self._engine
        target: str | None = preloaded.release.id if preloaded else None
        candidate = preloaded
        reason: str | None = None
        try:
            if candidate is None:
                if not self.root.is_dir():
                    raise RegistryError(f"registry {self.root} does not exist or is not a folder")
                registry = Registry(self.root)
                target = registry.resolve(self.reference).id
                candidate = self._load_served(registry, target)
            candidate.check_consensus()
        except Exception as exc:  # any failure at all: the old engine keeps serving
            reason = f"{type(exc).__name__}: {exc}"
        ok = reason is None
        # A release below quorum is still better than nothing: it shows the members' reasons.
        swap = candidate is not None and (
            ok or previous is None or not _reaches_consensus(previous)
        )
        if swap and candidate is not None and previous is not None and _same(candidate, previous):
            swap = False  # the release already served, loaded alike: nothing to swap
        if swap and candidate is not None:
            self._engine = candidate
            self.loaded_at = datetime.now(UTC).isoformat()
            # Keep the long-lived objects (libraries, the models) out of the garbage collector's
            # full passes: over ~250k objects each pass stalls every request for ~100 ms.
            gc.freeze()
        elif previous is None:
            self._error = reason or self._error
        self._failed_target = None if ok else target
        outcome = ReloadOutcome(
            ok=ok,
            swapped=swap,
            trigger=trigger,
            requested=self.reference,
            release=target,
            previous=previous.release.id if previous else None,
            serving=self.release_id,
            reason=reason,
            at=datetime.now(UTC).isoformat(),
            duration_ms=round((time.perf_counter() - start) * 1000, 1),
        )
        self.last_reload = outcome
        if self.metrics is not None:
            self.metrics.reloads.labels("ok" if ok else "failed", trigger).inc()
            if swap:
                self.metrics.served(self._engine)
        log.log(
            logging.INFO if ok else logging.WARNING,
            "reload",
            extra={"event": "reload", "outcome": "ok" if ok else "failed", **outcome.to_json()},
        )
        return outcome

    # ---- background thread -------------------------------------------------------------
    def start(self, watch_interval_s: float) -> None:
        """Load in the background, then poll the alias every ``watch_interval_s`` (0: never)."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(watch_interval_s,), name="ai-engine-reload", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wait_loaded(self, timeout_s: float) -> bool:
        """Wait for the first load attempt to finish (for tests and tools)."""
        deadline = time.monotonic() + timeout_s
        while self.last_reload is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.last_reload is not None

    def _run(self, watch_interval_s: float) -> None:
        self.reload("startup")
        if watch_interval_s <= 0:
            return
        while not self._stop.wait(watch_interval_s):
            try:
                self.check_alias()
            except Exception:  # the watcher must never die
                log.exception("alias watch failed", extra={"event": "watch_error"})

    def check_alias(self) -> ReloadOutcome | None:
        """Reload when the watched alias points at another release than the one served."""
        self.alias_checks += 1
        try:
            registry = Registry(self.root)
            if not (registry.aliases_dir / f"{self.reference}.json").is_file():
                return None  # a release id, or an alias that does not exist (yet)
            target = registry.alias(self.reference).release
        except AIEngineError:
            return None  # no registry, or a broken alias file: look again next time
        if target in (self.release_id, self._failed_target):
            return None
        with self._reload_lock:  # a promote may have been swapping this very release in
            if target in (self.release_id, self._failed_target):
                return None
            return self._reload("watch")


def _same(candidate: Engine, served: Engine) -> bool:
    """The same release with the same members healthy: swapping would change nothing."""
    health = [(m.family, m.healthy) for m in candidate.members]
    return candidate.release.id == served.release.id and health == [
        (m.family, m.healthy) for m in served.members
    ]


def _reaches_consensus(engine: Engine) -> bool:
    try:
        engine.check_consensus()
    except ConsensusError:
        return False
    return True

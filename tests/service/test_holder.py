"""The engine holder: a promote and the alias watcher never load one release twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ai_engine.engine import Engine
from ai_engine.registry import Registry
from ai_engine.service.observability import Metrics
from ai_engine.serving.holder import EngineHolder, ReloadOutcome
from service.helpers import clone_release


def reload_count(metrics: Metrics, trigger: str) -> float:
    labels = {"outcome": "ok", "trigger": trigger}
    return metrics.registry.get_sample_value("ai_engine_reloads_total", labels) or 0.0


def test_the_watcher_leaves_alone_a_release_a_promote_is_swapping_in(
    registry_copy: Path,
) -> None:
    """The alias already names the new release while the promote still holds the reload lock:
    the watcher, which read the alias before the swap, must not load that release again."""
    second = clone_release(registry_copy)
    metrics = Metrics()
    holder = EngineHolder(registry_copy, "production", metrics)
    holder.reload("startup")
    registry = Registry(registry_copy)
    preloaded = Engine.load(registry, second)
    outcomes: list[ReloadOutcome | None] = []
    watcher = threading.Thread(target=lambda: outcomes.append(holder.check_alias()))
    with holder._reload_lock:  # as EngineHolder.promote holds it from moving the alias on
        registry.promote(second)
        watcher.start()
        deadline = time.monotonic() + 180  # a generous cap: met at once on a quiet machine
        while holder.alias_checks == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.alias_checks, "waited 180 s for the watcher's first alias check"
        time.sleep(0.3)  # the watcher has read the alias and waits for the lock
        holder._reload("promote", preloaded=preloaded)
    watcher.join(30)
    assert holder.release_id == second
    assert outcomes == [None]
    assert (reload_count(metrics, "promote"), reload_count(metrics, "watch")) == (1.0, 0.0)

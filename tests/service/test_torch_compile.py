"""AI_ENGINE_TORCH_COMPILE: off by default; on, the served release's members are compiled
after each load (releases pinned by ``?release=`` stay eager)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_engine.engine import Engine
from ai_engine.errors import ConfigError
from ai_engine.service.holder import EngineHolder
from ai_engine.service.settings import ServiceSettings


def test_the_setting_is_off_unless_asked_for() -> None:
    assert ServiceSettings.from_env({}).torch_compile is False
    assert ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "1"}).torch_compile is True
    assert ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "0"}).torch_compile is False
    with pytest.raises(ConfigError, match="AI_ENGINE_TORCH_COMPILE"):
        ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "yes please"})


@pytest.mark.parametrize("torch_compile", [False, True])
def test_the_served_engine_is_compiled_when_asked(
    registry_copy: Path, monkeypatch: pytest.MonkeyPatch, torch_compile: bool
) -> None:
    compiled: list[str] = []

    def record(engine: Engine) -> dict[str, str | None]:
        compiled.append(engine.release.id)
        return {"nhits": None, "patchtst": "torch.compile failed: RuntimeError: no compiler"}

    monkeypatch.setattr(Engine, "compile_predict", record)
    holder = EngineHolder(registry_copy, "production", torch_compile=torch_compile)
    outcome = holder.reload("startup")
    assert outcome.ok and holder.engine is not None
    served = holder.engine.release.id
    assert compiled == ([served] if torch_compile else [])
    holder.engine_for(served)  # the served one: no second load, no second compilation
    assert compiled == ([served] if torch_compile else [])


def test_engine_compile_predict_names_the_torch_members(registry_copy: Path) -> None:
    engine = Engine.load(registry_copy)
    calls: list[str] = []
    for member in engine.members:
        assert member.bundle is not None
        model = member.bundle.model
        if hasattr(model, "compile_predict"):
            family = member.family
            object.__setattr__(model, "compile_predict", lambda f=family: calls.append(f))
    outcome = engine.compile_predict()
    assert sorted(outcome) == sorted(calls) == ["nhits", "patchtst"]
    assert all(why is None for why in outcome.values())

"""AI_ENGINE_TORCH_COMPILE: off by default; on, the served release's members are compiled
after each load (releases pinned by ``?release=`` stay eager)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ai_engine.data import make_candles
from ai_engine.engine import Engine
from ai_engine.errors import ConfigError
from ai_engine.serving.holder import EngineHolder
from ai_engine.serving.settings import ServiceSettings
from service.helpers import FRAME, SYMBOL, TIMEFRAME


def test_the_setting_is_off_unless_asked_for() -> None:
    assert ServiceSettings.from_env({}).torch_compile is False
    assert ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "1"}).torch_compile is True
    assert ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "0"}).torch_compile is False
    with pytest.raises(ConfigError, match="AI_ENGINE_TORCH_COMPILE"):
        ServiceSettings.from_env({"AI_ENGINE_TORCH_COMPILE": "yes please"})


def compiled_members(engine: Engine) -> dict[str, object]:
    """Each PyTorch member's compiled one-row network (None: eager)."""
    return {
        m.family: getattr(m.bundle.model, "_compiled", None)
        for m in engine.members
        if m.bundle is not None and hasattr(m.bundle.model, "compile_predict")
    }


@pytest.mark.parametrize("torch_compile", [False, True])
def test_the_served_engine_is_compiled_when_asked(registry_copy: Path, torch_compile: bool) -> None:
    """A real compilation (inductor and the C++ compiler .ci/run installs) of the served
    release; a one-row signal then matches an eager engine's within float32 rounding."""
    holder = EngineHolder(registry_copy, "production", torch_compile=torch_compile)
    outcome = holder.reload("startup")
    assert outcome.ok and holder.engine is not None
    served = holder.engine
    networks = compiled_members(served)
    assert sorted(networks) == ["nhits", "patchtst"]
    assert all((n is not None) == torch_compile for n in networks.values()), networks
    assert holder.engine_for(served.release.id) is served  # no second load or compilation
    assert compiled_members(served) == networks
    eager = Engine.load(registry_copy, served.release.id)
    for end in (300, 450, 600):
        candles = make_candles(FRAME.iloc[end - 256 : end], SYMBOL, TIMEFRAME)
        for ours, theirs in zip(served.forecasts(candles), eager.forecasts(candles), strict=True):
            assert ours.family == theirs.family and ours.forecast is not None
            np.testing.assert_allclose(ours.forecast, theirs.forecast, rtol=1e-4, atol=1e-9)

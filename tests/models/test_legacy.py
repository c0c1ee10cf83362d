"""The legacy families rebuild the older script's networks exactly: keys, shapes, outputs."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from ai_engine.errors import ConfigError, WeightsMismatchError
from ai_engine.models.base import FAMILY_MODULES, Scaler, build, descriptor, get_family
from ai_engine.models.legacy import LegacyNHiTS, LegacyPatchTST
from legacy_objects import old_nhits, old_patchtst, run

NHITS = {"input_dim": 24, "hidden_dim": 16, "output_dim": 12, "horizon": 12, "n_blocks": 3}
PATCHTST = {
    "lookback": 32,
    "patch_len": 8,
    "stride": 4,
    "hidden_dim": 16,
    "n_heads": 4,
    "n_layers": 2,
    "output_dim": 12,
    "horizon": 12,
}


def identity(width: int) -> Scaler:
    return Scaler(tuple([0.0] * width), tuple([1.0] * width), 1.0)


def test_both_families_are_registered_by_name() -> None:
    assert get_family("legacy-nhits") is LegacyNHiTS
    assert get_family("legacy-patchtst") is LegacyPatchTST
    assert "ai_engine.models.legacy" in FAMILY_MODULES
    for name in ("legacy-nhits", "legacy-patchtst"):
        family = descriptor(name)
        assert family.origin == "builtin" and not family.member and not family.trainable


def test_legacy_nhits_has_the_old_keys_and_computes_the_old_outputs() -> None:
    old = old_nhits()
    model = cast(LegacyNHiTS, build("legacy-nhits", NHITS))
    assert model.state_shapes() == {k: tuple(v.shape) for k, v in old.state_dict().items()}
    assert "blocks.2.2.weight" in model.state_shapes()
    model.load_state(old.state_dict(), "test")
    model.scaler_ = identity(24)
    x = np.random.default_rng(0).normal(size=(5, 24))
    np.testing.assert_allclose(model.predict(x), run(old, x), rtol=1e-6, atol=1e-7)
    assert model.network_ is not None
    np.testing.assert_allclose(run(model.network_, x.reshape(5, 8, 3)), run(old, x), rtol=1e-6)
    assert model.parameter_count() == sum(p.numel() for p in old.parameters())


def test_legacy_patchtst_has_the_old_keys_and_computes_the_old_outputs() -> None:
    old = old_patchtst()
    model = cast(LegacyPatchTST, build("legacy-patchtst", PATCHTST))
    assert model.state_shapes() == {k: tuple(v.shape) for k, v in old.state_dict().items()}
    model.load_state(old.state_dict(), "test")
    model.scaler_ = identity(32)
    x = np.random.default_rng(1).normal(size=(6, 32))
    np.testing.assert_allclose(model.predict(x), run(old, x), rtol=1e-5, atol=1e-6)


def test_a_strict_load_names_missing_unexpected_and_reshaped_keys() -> None:
    model = cast(LegacyNHiTS, build("legacy-nhits", {**NHITS, "n_blocks": 4, "hidden_dim": 8}))
    with pytest.raises(WeightsMismatchError) as exc:
        model.load_state(old_nhits().state_dict(), "old.pt")
    message = str(exc.value)
    assert "missing keys ['blocks.3.0.bias'" in message and "unexpected keys []" in message
    assert "blocks.0.0.weight: expected (8, 24), found (16, 24)" in message
    assert "'n_blocks': 4" in message


@pytest.mark.parametrize(
    ("family", "changes", "message"),
    [
        ("legacy-nhits", {"horizon": 6}, "horizon must equal output_dim"),
        ("legacy-nhits", {"input_dim": 0}, "expected values >= 1"),
        ("legacy-patchtst", {"n_heads": 3}, "must be divisible by n_heads"),
        ("legacy-patchtst", {"lookback": 1000}, "give 249 patches; expected 1..100"),
        ("legacy-patchtst", {"lookback": 4}, "give 0 patches"),
        ("legacy-patchtst", {"pooling": "max"}, "pooling must be one of ['mean', 'last']"),
    ],
)
def test_configs_that_cannot_be_built_are_refused(
    family: str, changes: dict[str, object], message: str
) -> None:
    base = NHITS if family == "legacy-nhits" else PATCHTST
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(family, {**base, **changes})


def test_legacy_families_are_never_trained() -> None:
    model = build("legacy-nhits", NHITS)
    x, y = np.zeros((4, 24)), np.zeros((4, 12))
    with pytest.raises(ConfigError, match="imported from a checkpoint"):
        model.fit(x, y, x, y)

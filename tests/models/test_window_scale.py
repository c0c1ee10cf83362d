"""Per-window scaling of the sequence families (``window_scale``): forecasts in proportion to the
window, series of different volatility learned alike in one model, old configs unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ai_engine.models.base import Forecaster, build
from ai_engine.models.nhits import NHiTSConfig
from ai_engine.models.sequence import WINDOW_SCALE_FLOOR, window_scales

from synthetic import sine_windows

TINY: dict[str, Any] = {
    "lookback": 25,
    "horizon": 6,
    "n_stacks": 2,
    "n_blocks": 1,
    "mlp_units": (16, 16),
    "pool_kernel_sizes": (4, 1),
    "n_freq_downsample": (4, 1),
    "max_epochs": 30,
    "patience": 30,
    "batch_size": 64,
}


def fitted(x: np.ndarray, y: np.ndarray, **changes: Any) -> Forecaster:
    torch.set_num_threads(1)
    return build("nhits", {**TINY, **changes}).fit(x, y, x[-200:], y[-200:])


def test_the_scale_is_the_rms_of_channel_0_over_the_window_floored() -> None:
    x = np.zeros((3, 4, 2), dtype=np.float32)
    x[0, :, 0] = [3, -3, 3, -3]
    x[1, :, 1] = 9  # another channel does not count
    x[2, :, 0] = 0.01
    scales = window_scales(x)
    assert scales.shape == (3, 1, 1)
    np.testing.assert_allclose(scales[:, 0, 0], [3.0, WINDOW_SCALE_FLOOR, WINDOW_SCALE_FLOOR])


def test_a_window_scaled_forecast_is_in_proportion_to_its_window() -> None:
    x, y = sine_windows(25, 6)
    scaled, plain = fitted(x, y, window_scale=True), fitted(x, y)
    for model, proportional in ((scaled, True), (plain, False)):
        assert model.scaler_ is not None
        z = model.scaler_.transform(x[:50])
        ratio_ok = np.allclose(model._predict(3 * z), 3 * model._predict(z), rtol=1e-4, atol=1e-5)
        assert ratio_ok is proportional


def test_a_quiet_series_pooled_with_a_loud_one_is_learned_as_well() -> None:
    loud_x, loud_y = sine_windows(25, 6)
    quiet_x, quiet_y = 0.1 * loud_x, 0.1 * loud_y  # the same dynamics at a tenth of the scale
    x, y = np.concatenate([loud_x, quiet_x]), np.concatenate([loud_y, quiet_y])
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]

    def relative_error(model: Forecaster, xs: np.ndarray, ys: np.ndarray) -> float:
        return float(np.mean(np.abs(model.predict(xs) - ys)) / np.mean(np.abs(ys)))

    scaled, plain = fitted(x, y, window_scale=True), fitted(x, y)
    quiet = relative_error(scaled, quiet_x, quiet_y)
    assert quiet < 0.5 * relative_error(plain, quiet_x, quiet_y)
    assert quiet < 2 * relative_error(scaled, loud_x, loud_y) + 0.02


def test_a_config_without_the_field_is_unscaled_as_before() -> None:
    values = NHiTSConfig().to_dict()
    assert values.pop("window_scale") is False
    assert NHiTSConfig.from_dict(values).window_scale is False
    assert NHiTSConfig.from_dict({**values, "window_scale": True}).window_scale is True

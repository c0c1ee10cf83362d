"""Leaks and shortcuts that would flatter the evidence, each with a test that fails when it is
injected: no purge, test rows in the inner training, no finite-sample conformal correction,
intervals that ignore the recent scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ai_engine.evaluation import Evidence
from ai_engine.evaluation.conformal import conformal_quantiles
from ai_engine.evaluation.oof import inner_segments, out_of_fold
from ai_engine.features import ModelInputs
from evaluation.test_evidence_compat import old_evaluation

H = 12


def inputs_of(n: int) -> ModelInputs:
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return ModelInputs(np.zeros((n, 2)), np.zeros((n, 96, 1)), index, np.arange(n))


def test_inner_training_ends_a_purge_before_each_scored_segment() -> None:
    for train, test in inner_segments(1000, 3, H, 100):
        assert train.start == 0 and train.stop == test.start - H


def test_no_scored_row_or_later_row_reaches_the_inner_training() -> None:
    """The fit sees only rows before the segment it forecasts, less the purge."""
    n = 1200
    targets = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, H))
    seen: list[tuple[int, int]] = []

    def fit_predict(
        train: ModelInputs, train_targets: np.ndarray, test: ModelInputs
    ) -> dict[str, np.ndarray]:
        seen.append((int(train.rows.max()), int(test.rows.min())))
        assert np.array_equal(train_targets[:, 0], train.rows.astype(np.float64))
        return {"m": np.zeros((len(test), H))}

    oof = out_of_fold(inputs_of(n), targets, 3, 100, fit_predict)
    assert oof is not None and oof.folds == 3
    assert all(last_train <= first_test - H - 1 for last_train, first_test in seen)


def test_conformal_quantile_takes_the_finite_sample_step() -> None:
    """Scores 1..9 at 80 %: the ceil((n + 1) 0.8) / n = 8/9 quantile is 9, not the plain 80 %
    quantile (8)."""
    scores = np.arange(1.0, 10.0)[:, None]
    q = conformal_quantiles(scores, np.zeros_like(scores), np.ones(9), 0.8)
    assert q.tolist() == [9.0]


def test_interval_width_follows_the_recent_scores() -> None:
    """Recent zero-forecast scores twice the calibration ones double the band."""
    evidence = Evidence.from_json(old_evaluation())
    windows = np.full((1, 96, 1), 0.001)
    combined = np.zeros((1, H))
    base = np.diff(evidence.bounds(combined, windows), axis=0)[0]
    recent = 2.0 * evidence.zero_quantiles[None, :]
    doubled = np.diff(evidence.bounds(combined, windows, recent), axis=0)[0]
    assert np.allclose(doubled, 2.0 * base)

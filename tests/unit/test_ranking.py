"""Rankings whose near-ties fall the same way on every machine (training/metrics/ranking.py)."""
from __future__ import annotations

import numpy as np
import pytest

from vitrina.training.metrics.ranking import TIE_TOLERANCE, score_key, tie_broken_order


def test_scores_within_one_step_are_one_key_and_padding_sorts_last():
    keys = score_key(np.array([0.5, 0.5 + 1e-8, 0.5 - 1e-8, 0.5 + 3 * TIE_TOLERANCE, -np.inf]))
    assert keys[0] == keys[1] == keys[2] and keys[3] == keys[0] + 3
    assert keys[4] == -np.inf


def test_near_ties_go_by_row_and_clear_differences_by_score():
    # Rows 4 and 1 tie (1e-8 apart, the larger on the higher row), row 2 is clearly best,
    # row 0 clearly worst, row 3 is padding.
    scores = np.array([0.1, 0.7, 0.9, -np.inf, 0.7 + 1e-8], dtype=np.float64)
    rows = np.arange(5)
    assert tie_broken_order(scores, rows).tolist() == [2, 1, 4, 0, 3]
    assert np.argsort(-scores, kind="stable").tolist() == [2, 4, 1, 0, 3]  # what a raw sort does


def test_each_row_of_a_block_is_ordered_on_its_own():
    scores = np.array([[0.2, 0.2 + 1e-9, 0.3], [0.9, 0.1, 0.9 - 1e-9]], dtype=np.float32)
    rows = np.array([[7, 3, 5], [2, 8, 1]])
    order = tie_broken_order(scores, rows)
    assert np.take_along_axis(rows, order, axis=1).tolist() == [[5, 3, 7], [1, 2, 8]]


def test_float32_noise_on_identical_vectors_does_not_decide():
    # The same score seen through float32 kernels that round differently: still one tie.
    exact = 0.123456789
    noisy = np.array([exact, np.nextafter(np.float32(exact), np.float32(1)), np.float32(exact)], dtype=np.float32)
    assert len(set(score_key(noisy).tolist())) == 1
    assert tie_broken_order(noisy, np.array([2, 0, 1])).tolist() == [1, 2, 0]


@pytest.mark.parametrize("tolerance", [0.0, -1e-6, float("nan")])
def test_a_tolerance_must_be_positive(tolerance):
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        score_key(np.zeros(2), tolerance)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shape"):
        tie_broken_order(np.zeros(3), np.arange(4))

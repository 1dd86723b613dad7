"""Rankings whose near-ties fall the same way on every machine (training/metrics/ranking.py)."""
from __future__ import annotations

import numpy as np
import pytest

from vitrina.training.metrics.ranking import TIE_TOLERANCE, tie_broken_order


def test_near_ties_go_by_row_and_clear_differences_by_score():
    # Rows 4 and 1 tie (1e-8 apart, the larger on the higher row), row 2 is clearly best,
    # row 0 clearly worst, row 3 is padding.
    scores = np.array([0.1, 0.7, 0.9, -np.inf, 0.7 + 1e-8])
    rows = np.arange(5)
    assert tie_broken_order(scores, rows).tolist() == [2, 1, 4, 0, 3]
    assert np.argsort(-scores, kind="stable").tolist() == [2, 4, 1, 0, 3]  # what a raw sort does


def test_a_tie_is_a_chain_of_small_gaps_wherever_the_scores_fall():
    # Twins 2e-9 apart stay one tie at any score (rounding to a grid would split those that
    # straddle a step); gaps above the tolerance separate.
    for centre in np.linspace(0.2, 0.2 + 3 * TIE_TOLERANCE, 31):
        scores = np.array([centre - 1e-9, centre + 1e-9, centre - 5 * TIE_TOLERANCE])
        assert tie_broken_order(scores, np.array([0, 1, 2])).tolist() == [0, 1, 2]
    chained = np.array([0.5, 0.5 + 0.9 * TIE_TOLERANCE, 0.5 + 1.8 * TIE_TOLERANCE, 0.5 + 3 * TIE_TOLERANCE])
    assert tie_broken_order(chained, np.arange(4)).tolist() == [3, 0, 1, 2]


def test_each_row_of_a_block_is_ordered_on_its_own():
    scores = np.array([[0.2, 0.2 + 1e-9, 0.3], [0.9, 0.1, 0.9 - 1e-9]], dtype=np.float32)
    rows = np.array([[7, 3, 5], [2, 8, 1]])
    order = tie_broken_order(scores, rows)
    assert np.take_along_axis(rows, order, axis=1).tolist() == [[5, 3, 7], [1, 2, 8]]


def test_padding_sorts_last_in_row_order():
    scores = np.array([[-np.inf, 0.3, -np.inf, 0.4]])
    assert tie_broken_order(scores, np.array([[9, 2, 4, 7]])).tolist() == [[3, 1, 2, 0]]


def test_groups_rank_within_each_group():
    scores = np.array([0.5, 0.9, 0.5 + 1e-9, 0.1, 0.8])
    groups = np.array([1, 0, 1, 1, 0])
    order = tie_broken_order(scores, np.arange(5), groups=groups)
    assert order.tolist() == [1, 4, 0, 2, 3]


def test_float32_noise_on_identical_vectors_does_not_decide():
    # The same score seen through float32 kernels that round differently: still one tie.
    exact = np.float32(0.123456789)
    noisy = np.array([exact, np.nextafter(exact, np.float32(1)), exact], dtype=np.float32)
    assert tie_broken_order(noisy, np.array([2, 0, 1])).tolist() == [1, 2, 0]


def test_short_and_empty_rankings():
    assert tie_broken_order(np.zeros(0), np.zeros(0, dtype=np.int64)).tolist() == []
    assert tie_broken_order(np.array([0.3]), np.array([4])).tolist() == [0]


@pytest.mark.parametrize("tolerance", [0.0, -1e-6, float("nan")])
def test_a_tolerance_must_be_positive(tolerance):
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        tie_broken_order(np.zeros(2), np.arange(2), tolerance)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shape"):
        tie_broken_order(np.zeros(3), np.arange(4))
    with pytest.raises(ValueError, match="same shape"):
        tie_broken_order(np.zeros(3), np.arange(3), groups=np.zeros(2))

"""Rankings by a floating-point score that come out the same on every machine.

Scores computed from the same vectors differ in their last bits from one processor, BLAS
kernel or thread count to another (fused multiply-adds, blocking, summation order), and
two identical vectors can score differently at different positions of one matrix product.
Sorting on the raw score lets those bits decide the order of near-ties, so a bundle built
on one machine would list a cluster's members, or an item's neighbours, in another order
than one built elsewhere. Every stored ranking sorts instead on the score rounded to a grid
of TIE_TOLERANCE, and then on the row: scores in the same step are a tie, and the lower row
comes first. Scores are rounded in float64, so the grid, not the arithmetic, sets how close
counts as tied; callers that can should compute the scores in float64 too, which leaves a
flip only where a score falls within ~1e-15 of a step's edge.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TIE_TOLERANCE", "score_key", "tie_broken_order"]

# Cosine similarities of L2-normalised float32 vectors carry ~1e-7 of rounding; a step ten
# times that is well above it and far below any difference a user could see in a result.
TIE_TOLERANCE = 1e-6


def score_key(scores: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Scores as float64 multiples of `tolerance` (rounded): equal keys are ties.

    -inf (padding) stays -inf, so it sorts after every real score."""
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    with np.errstate(invalid="ignore", over="ignore"):
        return np.rint(np.asarray(scores, dtype=np.float64) / tolerance)


def tie_broken_order(scores: np.ndarray, rows: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Indices that sort (scores, rows) along the last axis: best score first, scores within
    the same `tolerance` step by ascending row. Works on 1-D arrays and on [m, k] blocks."""
    scores = np.asarray(scores)
    rows = np.asarray(rows)
    if scores.shape != rows.shape:
        raise ValueError(f"scores {scores.shape} and rows {rows.shape} must have the same shape")
    return np.lexsort((rows, -score_key(scores, tolerance)), axis=-1)

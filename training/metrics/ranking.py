"""Rankings by a floating-point score that come out the same on every machine.

Scores computed from the same vectors differ in their last bits from one processor, BLAS
kernel or thread count to another (fused multiply-adds, blocking, summation order), and
two identical vectors can score differently at different positions of one matrix product.
Sorting on the raw score lets those bits decide the order of near-ties, so a bundle built
on one machine would list a cluster's members, or an item's neighbours, in another order
than one built elsewhere.

Every stored ranking therefore sorts by score, treats a run of scores whose consecutive
gaps are at most TIE_TOLERANCE as one tie, and orders each tie by row. Chaining gaps,
rather than rounding scores to a grid, keeps twins together wherever their common score
falls: a grid splits two scores 1e-9 apart whenever a step's edge lies between them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TIE_TOLERANCE", "tie_broken_order"]

# Cosine similarities of L2-normalised float32 vectors carry ~1e-7 of rounding; a gap ten
# times that is well above it and far below any difference a user could see in a result.
TIE_TOLERANCE = 1e-6
# Stands in for -inf when taking gaps: far below any similarity, and finite.
_FLOOR = 1e300


def tie_broken_order(
    scores: np.ndarray,
    rows: np.ndarray,
    tolerance: float = TIE_TOLERANCE,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Indices that sort along the last axis: best score first, and within a tie (consecutive
    scores at most `tolerance` apart) by ascending row. With `groups` (same shape), items are
    ordered by group first and ranked within their group. -inf (padding) sorts last.
    Works on 1-D arrays and on [m, k] blocks, one ranking per row of the block."""
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    scores = np.asarray(scores, dtype=np.float64)
    rows = np.asarray(rows)
    if scores.shape != rows.shape or (groups is not None and np.shape(groups) != scores.shape):
        raise ValueError(f"scores {scores.shape}, rows {rows.shape} and groups must have the same shape")
    keys = (rows, -scores) if groups is None else (rows, -scores, np.asarray(groups))
    first = np.lexsort(keys, axis=-1)
    if scores.shape[-1] < 2:
        return first
    ranked = scores[first] if scores.ndim == 1 else np.take_along_axis(scores, first, axis=-1)
    # Padding (-inf) beside padding then differs by 0, not NaN: one tie, by row.
    ranked = np.maximum(ranked, -_FLOOR)
    starts = ranked[..., :-1] - ranked[..., 1:] > tolerance
    if groups is not None:
        grouped = np.take_along_axis(np.asarray(groups), first, axis=-1)
        starts |= grouped[..., :-1] != grouped[..., 1:]
    if starts.all():  # no near-ties: the plain sort stands (most searches, and it is cheap)
        return first
    tie = np.concatenate([np.zeros_like(starts[..., :1], dtype=np.int64), np.cumsum(starts, axis=-1)], axis=-1)
    second = np.lexsort((np.take_along_axis(rows, first, axis=-1), tie), axis=-1)
    return np.take_along_axis(first, second, axis=-1)

"""Exact inner-product top-k in NumPy: the recall oracle and the filtered-search fallback.

It works on blocks so memory stays bounded (a 1000 x 1M score matrix would be
4 GB) and it never needs a FAISS index, so it can search any subset of rows
straight from the stored vectors.
"""
from __future__ import annotations

import numpy as np

from vitrina.indexer import checks
from vitrina.training.metrics.ranking import tie_broken_order

__all__ = ["CUT_SLACK", "exact_search", "settle_ties"]

# One score block is QUERY_BLOCK x ROW_BLOCK float32 (32 MB) plus argpartition's int64 twin.
QUERY_BLOCK = 256
ROW_BLOCK = 32_768
# Hits fetched past the k-th, so that a near-tie straddling the cut falls by row like any
# other (unless it has more members than this).
CUT_SLACK = 8
# Queries per block when rescoring hits: the gathered rows of 256 queries x 21 hits x 1280-d
# take 28 MB.
RESCORE_BLOCK = 256
# Padding (row -1) sorts after every real row among equal (-inf) scores.
_LAST_ROW = np.iinfo(np.int64).max


def exact_search(
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of `vectors` by inner product with each query.

    vectors: float [n, d]; queries: float [m, d]; allowed: optional bool [n] mask.
    Returns (scores float32 [m, k], rows int64 [m, k]) best first (scores within
    TIE_TOLERANCE of each other in row order, see settle_ties). When fewer than k rows are
    allowed the tail is padded with row -1 and score -inf.
    """
    vectors = checks.matrix("vectors", vectors)
    queries = checks.matrix("queries", queries, dim=vectors.shape[1])
    k = checks.positive_int("k", k)
    fetch = k + CUT_SLACK  # past the cut, so a tie straddling it falls by row (settle_ties)
    n = vectors.shape[0]
    candidates = None if allowed is None else np.flatnonzero(checks.row_mask("allowed", allowed, n))
    n_candidates = n if candidates is None else candidates.size

    m = queries.shape[0]
    scores = np.full((m, fetch), -np.inf, dtype=np.float32)
    rows = np.full((m, fetch), -1, dtype=np.int64)
    if m == 0 or n_candidates == 0:
        return scores[:, :k], rows[:, :k]

    best_s = np.full((m, 0), -np.inf, dtype=np.float32)
    best_r = np.full((m, 0), -1, dtype=np.int64)
    # Rows outside, queries inside: each stored vector (or gathered subset block) is read once.
    for r0 in range(0, n_candidates, ROW_BLOCK):
        if candidates is None:
            block_rows = np.arange(r0, min(r0 + ROW_BLOCK, n), dtype=np.int64)
            block = vectors[r0 : r0 + ROW_BLOCK]
        else:
            block_rows = candidates[r0 : r0 + ROW_BLOCK].astype(np.int64)
            block = vectors[block_rows]
        tops = [
            _block_topk(queries[q0 : q0 + QUERY_BLOCK] @ block.T, block_rows, fetch) for q0 in range(0, m, QUERY_BLOCK)
        ]
        best_s, best_r = _merge_topk(
            np.concatenate([best_s, np.concatenate([t[0] for t in tops])], axis=1),
            np.concatenate([best_r, np.concatenate([t[1] for t in tops])], axis=1),
            fetch,
        )
    kk = best_s.shape[1]
    scores[:, :kk] = best_s
    rows[:, :kk] = best_r
    scores, rows = settle_ties(vectors, queries, scores, rows)
    return np.ascontiguousarray(scores[:, :k]), np.ascontiguousarray(rows[:, :k])


def settle_ties(
    vectors: np.ndarray | None, queries: np.ndarray, scores: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Hits (scores, rows: [m, k], row -1 for padding) re-sorted so that near-ties fall the same
    way on every machine: best first, scores within TIE_TOLERANCE by ascending row.

    With `vectors` (the matrix rows index), each hit is rescored in float64 from its stored
    vector, so the order no longer depends on the float32 rounding of the kernel that found
    it, and approximate scores (SQ/PQ codes) become exact ones. Which hits a search returns
    is unchanged. Without vectors the given scores are ordered as they are.
    """
    padded = rows < 0
    any_padding = padded.any()  # rare: fewer hits than asked; spares three copies otherwise
    if vectors is not None:
        safe = np.where(padded, 0, rows) if any_padding else rows
        exact = np.empty(rows.shape)
        for q0 in range(0, len(rows), RESCORE_BLOCK):
            block = slice(q0, q0 + RESCORE_BLOCK)
            # einsum casts while it sums: three times faster than casting the gathered rows first.
            exact[block] = np.einsum("qkd,qd->qk", vectors[safe[block]], queries[block], dtype=np.float64, casting="safe")
        scores = np.where(padded, -np.inf, exact) if any_padding else exact
    order = tie_broken_order(scores, np.where(padded, _LAST_ROW, rows) if any_padding else rows)
    return np.take_along_axis(scores, order, axis=1).astype(np.float32), np.take_along_axis(rows, order, axis=1)


def _block_topk(s: np.ndarray, block_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k best columns of one score block (unsorted), with their row numbers."""
    if s.shape[1] <= k:
        return s, np.broadcast_to(block_rows, s.shape)
    # argpartition is linear; only 2k columns per query ever reach _merge_topk.
    part = np.argpartition(s, -k, axis=1)[:, -k:]
    return np.take_along_axis(s, part, axis=1), block_rows[part]


def _merge_topk(s: np.ndarray, r: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k best columns per row of (s, r), unsorted: settle_ties orders the final ones."""
    if s.shape[1] <= k:
        return s, r
    part = np.argpartition(s, -k, axis=1)[:, -k:]
    return np.take_along_axis(s, part, axis=1), np.take_along_axis(r, part, axis=1)

"""Retrieval quality measures."""
from __future__ import annotations

import numpy as np

from vitrina.indexer import checks

__all__ = ["recall_at_k"]


def recall_at_k(approx_rows: np.ndarray, exact_rows: np.ndarray, k: int) -> float:
    """Mean fraction of the exact top-k that the approximate top-k recovered.

    approx_rows: int [m, >=k] rows returned by the index under test, best first.
    exact_rows:  int [m, >=k] rows returned by exact search for the same queries.
    Only the first k columns of each are compared. Padding (-1) in `exact_rows`
    is not counted as a neighbour to find, so a query whose filter allowed only
    3 rows is scored out of 3; a query with no exact neighbours is skipped.
    Returns a float in [0, 1] (1.0 when no query has any exact neighbour).
    """
    approx = np.asarray(approx_rows)
    exact = np.asarray(exact_rows)
    if approx.ndim != 2 or exact.ndim != 2 or approx.shape[0] != exact.shape[0]:
        raise ValueError(
            f"approx_rows and exact_rows must be 2-D with the same number of queries, "
            f"got {approx.shape} and {exact.shape}"
        )
    k = checks.positive_int("k", k)
    if approx.shape[1] < k or exact.shape[1] < k:
        raise ValueError(f"k={k} exceeds the columns given ({approx.shape[1]}, {exact.shape[1]}); lower k")
    approx, exact = approx[:, :k], exact[:, :k]
    wanted = exact >= 0
    # [m, k_exact, k_approx] equality is tiny for k=10 and avoids a Python loop per query.
    found = (exact[:, :, None] == approx[:, None, :]).any(axis=2) & wanted
    per_query_wanted = wanted.sum(axis=1)
    scored = per_query_wanted > 0
    if not scored.any():
        return 1.0
    return float(np.mean(found.sum(axis=1)[scored] / per_query_wanted[scored]))

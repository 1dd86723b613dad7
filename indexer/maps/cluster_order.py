"""The order of a cluster's members, most central first: computed once by the build, stored
beside each label (`member_rank_<method>` in projections.parquet), served as stored.

A server that re-ranked members from the vectors it loaded would compute the same order
as the build only if it ran the same arithmetic on the same kind of processor; it did not
(the build ranks on the vectors it clustered, PCA-reduced ones for large dimensions, and
floating-point kernels differ between machines), so a cluster's first page could disagree
with its representatives. Storing the order makes the build the one place that decides it.

    rank = member_ranks(vectors, labels, ids, centroids)    # int32 [n], 0 = most central
    rows = cluster_members(labels, cluster, rank)            # the API's pages, in order
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from vitrina.training.metrics.ranking import tie_broken_order

__all__ = ["check_member_ranks", "cluster_members", "member_ranks"]

# Rows per block when scoring members against their centroid: bounds the float64 copies.
_BLOCK = 65_536


def member_ranks(vectors: np.ndarray, labels: np.ndarray, ids: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each row's place in its cluster, most similar to the cluster's mean direction first;
    near-ties (within TIE_TOLERANCE, vitrina.training.metrics.ranking) and noise (-1) by row.

    ids: the clusters present, sorted; centroids[i]: cluster ids[i]'s unit mean direction.
    x . mean(members) is x's mean cosine similarity to all members, scaled by a constant,
    so the head of this order holds the medoids under cosine similarity, found in
    O(size * d) rather than O(size^2 * d). Similarities are taken in float64 so that the
    tie tolerance, not the rounding of one machine's kernels, decides the order.
    """
    n = len(labels)
    sims = np.zeros(n, dtype=np.float64)
    members = np.flatnonzero(labels >= 0)
    centroids = np.asarray(centroids, dtype=np.float64)
    for start in range(0, len(members), _BLOCK):
        rows = members[start : start + _BLOCK]
        own = centroids[np.searchsorted(ids, labels[rows])]
        sims[rows] = np.einsum("ij,ij->i", vectors[rows], own, dtype=np.float64, casting="safe")
    return _ranks_within_groups(labels, tie_broken_order(sims, np.arange(n), groups=labels))


def _ranks_within_groups(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """int32 ranks: order lists the rows grouped by label; each row's position within its group."""
    grouped = labels[order]
    rank = np.empty(len(labels), dtype=np.int32)
    rank[order] = np.arange(len(labels)) - np.searchsorted(grouped, grouped)
    return rank


def cluster_members(
    labels: np.ndarray,
    cluster: int,
    member_rank: np.ndarray | None,
    representatives: Sequence[int] = (),
) -> np.ndarray:
    """Rows labelled `cluster`, most central first, as the build stored them (member_rank).

    Nothing is re-ranked here: a server answers in the order the bundle holds, whatever
    machine built it. Bundles written before member ranks were stored (member_rank None)
    list the stored `representatives` (rows) first and the other members in row order.
    """
    labels = np.asarray(labels)
    rows = np.flatnonzero(labels == cluster)
    if member_rank is not None:
        return rows[np.argsort(np.asarray(member_rank)[rows], kind="stable")]
    head = np.asarray([r for r in representatives if labels[r] == cluster], dtype=np.int64)
    return np.concatenate([head, np.setdiff1d(rows, head, assume_unique=True)])


def check_member_ranks(labels: np.ndarray, member_rank: np.ndarray) -> str | None:
    """None when every cluster's member ranks are 0..size-1 (what the build writes);
    otherwise what is wrong, for the reader's error."""
    labels = np.asarray(labels)
    member_rank = np.asarray(member_rank)
    if member_rank.shape != labels.shape:
        return f"has {member_rank.size} values for {labels.size} labels"
    expected = _ranks_within_groups(labels, np.lexsort((member_rank, labels)))
    wrong = np.flatnonzero(member_rank != expected)
    if len(wrong):
        row = int(wrong[0])
        return (f"must number each cluster's members 0..size-1 once each; row {row} "
                f"(cluster {int(labels[row])}) has {int(member_rank[row])}")
    return None

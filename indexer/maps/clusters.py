"""Clusters of one embedding space (`spaces/<space>/clusters.parquet`) and each item's label.

The web map colours items by cluster and lists the clusters by name, so every
cluster carries its size, a few representative items (medoids) and a name made
of keywords from its members' texts (c-TF-IDF, as in BERTopic).

Methods (all on L2-normalised vectors, where Euclidean distance orders pairs
exactly as cosine similarity does):
- `hdbscan` (default): density-based, finds the number of clusters and leaves noise (-1);
- `dbscan`: cosine distance, eps read off the data (knee of the k-distance curve, see `knee_eps`);
- `kmeans`: k chosen by silhouette over a range of k;
- `agglomerative`: Ward linkage, `n_clusters` or the k that kmeans' silhouette picks.

Cluster numbers are 0.. in order of decreasing size (ties: the cluster holding the
lower row first), so they are stable across runs with the same seed whatever
numbering a method returns; -1 is noise.

Each item's place in its cluster, most central first (`member_rank`), is computed once
here and stored by the build beside the label (space_maps.py); representatives are the
head of that order and the API pages through it as stored (cluster_order.py).

The noise points get one row in clusters.parquet (cluster -1, named "noise", no
keywords and no representatives) whenever there are any: the map's legend needs
their count, and a row of its own keeps them out of every real cluster's numbers.
They take no part in c-TF-IDF: the words of unclustered items would otherwise
change the names of the real clusters.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence
import numbers

import numpy as np

from vitrina.indexer.checks import positive_int
from vitrina.indexer.maps import cluster_methods as methods
from vitrina.indexer.maps.cluster_methods import CLUSTER_METHODS, NOISE
from vitrina.indexer.maps.cluster_naming import ClusterInfo, describe
from vitrina.indexer.maps.cluster_order import member_ranks
from vitrina.schemas.errors import InvalidFieldError

__all__ = ["CLUSTER_METHODS", "Clustering", "cluster_space"]

# Above this many items the methods are fitted on a seeded sample of this size and the
# rest assigned to the nearest centroid: Ward needs the n(n-1)/2 condensed distance
# matrix (1.6 GB of float64 at 20 000 items, 400 GB at 1M), DBSCAN keeps every point's
# eps-neighbourhood in memory, and HDBSCAN's core distances and spanning tree cost
# O(n^2) time in embedding dimensions where space-partitioning trees stop pruning;
# on a 2-core build machine none of that finishes for a million items.
DEFAULT_MAX_FIT_ITEMS = 20_000
DEFAULT_REPRESENTATIVES = 5


@dataclass(frozen=True, eq=False)
class Clustering:
    """The result of cluster_space.

    labels: int32 [n], cluster per row, -1 for noise. member_rank: int32 [n], each row's
    place in its cluster, 0 for the most central (noise: in row order), so a cluster's
    members sorted by it are 0..size-1. clusters: clusters 0..m-1 (largest
    first), then the noise row when there is noise. params: the values actually used,
    defaults resolved (e.g. `eps` for dbscan, `k` for kmeans, `fit_items` = rows fitted,
    fewer than n when a sample was fitted). silhouette: score per k tried (kmeans, and
    agglomerative without n_clusters); empty otherwise.
    """

    method: str
    labels: np.ndarray
    member_rank: np.ndarray
    clusters: tuple[ClusterInfo, ...]
    params: Mapping[str, int | float]
    silhouette: Mapping[int, float]

    @property
    def n_clusters(self) -> int:
        return sum(1 for c in self.clusters if c.cluster != NOISE)

    @property
    def eps(self) -> float | None:
        """The DBSCAN radius used (cosine distance); None for the other methods."""
        eps = self.params.get("eps")
        return None if eps is None else float(eps)

    @property
    def noise_fraction(self) -> float:
        return float((self.labels == NOISE).mean()) if len(self.labels) else 0.0


def cluster_space(
    vectors: np.ndarray,
    method: str = "hdbscan",
    seed: int = 0,
    *,
    texts: Sequence[str | None] | None = None,
    representatives: int = DEFAULT_REPRESENTATIVES,
    max_fit_items: int = DEFAULT_MAX_FIT_ITEMS,
    **params: object,
) -> Clustering:
    """Cluster the L2-normalised rows of `vectors` ([n, d]) with `method` (see CLUSTER_METHODS).

    params by method:
    - hdbscan: min_cluster_size (default max(5, fitted rows // 200)), min_samples (default = min_cluster_size);
    - dbscan: min_samples (default 5); eps is always derived from the data (knee_eps);
    - kmeans: k_min (2), k_max (min(40, fitted rows - 1)), silhouette_sample (3000);
    - agglomerative: n_clusters, or k chosen as kmeans would with k_min/k_max/silhouette_sample.
    texts: one per row (None for none) to name clusters by c-TF-IDF keywords; without
    them clusters are named "cluster <n>". representatives: medoids kept per cluster.
    More than max_fit_items rows: fit on a seeded sample of that size, assign the rest
    to the nearest centroid (see DEFAULT_MAX_FIT_ITEMS for why).
    """
    vectors = methods.check_unit_vectors(vectors)
    n = vectors.shape[0]
    method = methods.check_method(method, params)
    seed = _seed(seed)
    representatives = positive_int("representatives", representatives)
    max_fit_items = positive_int("max_fit_items", max_fit_items)
    if max_fit_items < 3:
        raise InvalidFieldError("max_fit_items", f"must be at least 3 to leave something to fit, got {max_fit_items}")
    texts = _check_texts(texts, n)

    fit_rows = methods.sample_fit_rows(n, max_fit_items, seed)
    fitted = vectors if fit_rows is None else vectors[fit_rows]
    fit_labels, used, silhouette = methods.FITTERS[method](fitted, seed, params)
    if fit_rows is None:
        labels = fit_labels
    else:
        labels = methods.extend_labels(vectors, fit_rows, fit_labels, keep_noise=method in methods.DENSITY_METHODS)
    labels = methods.number_by_size(labels)
    used["fit_items"] = int(fitted.shape[0])
    ids, centroids = methods.cluster_centroids(vectors, labels, dtype=np.float64)
    member_rank = member_ranks(vectors, labels, ids, centroids)
    clusters = describe(labels, member_rank, texts, representatives)
    return Clustering(method, labels, member_rank, clusters, MappingProxyType(used), MappingProxyType(silhouette))


# --- argument checks -----------------------------------------------------------------------


def _seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidFieldError("seed", f"must be an integer >= 0, got {seed!r}")
    return int(seed)


def _check_texts(texts: Sequence[str | None] | None, n: int) -> list[str] | None:
    if texts is None:
        return None
    if isinstance(texts, str) or len(texts) != n:
        raise InvalidFieldError("texts", f"must hold one text (or None) per row of vectors ({n})")
    for i, text in enumerate(texts):
        if text is not None and not isinstance(text, str):
            raise InvalidFieldError("texts", f"must hold strings or None, got {type(text).__name__} at position {i}")
    return [text or "" for text in texts]

"""The clustering methods: how each one fits, its parameters and their defaults, and fitting on
a sample with the rest assigned to the nearest centroid.

All work on L2-normalised vectors; labels are cluster numbers 0.. and NOISE (-1).
"""
from __future__ import annotations

import math
import numbers
from types import MappingProxyType
from typing import Mapping

import numpy as np

from vitrina.schemas.errors import InvalidFieldError
from vitrina.training.metrics.clustering import curve_knee

__all__ = ["CLUSTER_METHODS", "knee_eps"]

NOISE = -1
# Norms further than this from 1 mean the caller forgot to normalise: cosine maths would be wrong.
_NORM_TOLERANCE = 1e-3

# Parameters each method accepts through cluster_space(**params).
_METHOD_PARAMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "hdbscan": frozenset({"min_cluster_size", "min_samples"}),
        "dbscan": frozenset({"min_samples"}),
        "kmeans": frozenset({"k_min", "k_max", "silhouette_sample"}),
        "agglomerative": frozenset({"n_clusters", "k_min", "k_max", "silhouette_sample"}),
    }
)
CLUSTER_METHODS: tuple[str, ...] = tuple(_METHOD_PARAMS)
# Methods that leave noise; rows assigned after a sampled fit may stay noise too.
DENSITY_METHODS = frozenset({"hdbscan", "dbscan"})

DEFAULT_DBSCAN_MIN_SAMPLES = 5
DEFAULT_K_MAX = 40
# silhouette_score is O(m^2) in the points it scores; 3000 keeps it to ~9M distances per k.
DEFAULT_SILHOUETTE_SAMPLE = 3000
_KMEANS_N_INIT = 4
# Rows per block when summing or assigning to centroids: bounds the temporary copies and [rows, clusters] blocks.
_BLOCK = 65_536


# --- fitting -------------------------------------------------------------------------------

_Fit = tuple[np.ndarray, dict[str, int | float], dict[int, float]]


def _fit_hdbscan(vectors: np.ndarray, seed: int, params: Mapping[str, object]) -> _Fit:
    from sklearn.cluster import HDBSCAN

    m = vectors.shape[0]
    min_cluster_size = _int_param(params, "min_cluster_size", max(5, m // 200), low=2)
    min_samples = _int_param(params, "min_samples", min_cluster_size, low=1)
    if min_samples > m:
        raise InvalidFieldError("min_samples", f"must be at most the {m} items fitted, got {min_samples}")
    # Euclidean on unit vectors is monotone in cosine distance and lets sklearn use its trees.
    labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True).fit_predict(vectors)
    return labels, {"min_cluster_size": min_cluster_size, "min_samples": min_samples}, {}


def _fit_dbscan(vectors: np.ndarray, seed: int, params: Mapping[str, object]) -> _Fit:
    from sklearn.cluster import DBSCAN

    min_samples = _int_param(params, "min_samples", DEFAULT_DBSCAN_MIN_SAMPLES, low=2)
    eps = knee_eps(vectors, min_samples)
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="cosine", algorithm="brute").fit_predict(vectors)
    return labels, {"min_samples": min_samples, "eps": eps}, {}


def _fit_kmeans(vectors: np.ndarray, seed: int, params: Mapping[str, object]) -> _Fit:
    k, labels, scores = _choose_k(vectors, seed, params)
    return labels, {"k": k}, scores


def _fit_agglomerative(vectors: np.ndarray, seed: int, params: Mapping[str, object]) -> _Fit:
    from sklearn.cluster import AgglomerativeClustering

    m = vectors.shape[0]
    scores: dict[int, float] = {}
    if params.get("n_clusters") is None:
        k, _, scores = _choose_k(vectors, seed, params)
    else:
        k = _int_param(params, "n_clusters", 0, low=1)
        if k > m:
            raise InvalidFieldError("n_clusters", f"must be at most the {m} items fitted, got {k}")
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
    return labels, {"n_clusters": k}, scores


FITTERS = MappingProxyType(
    {"hdbscan": _fit_hdbscan, "dbscan": _fit_dbscan, "kmeans": _fit_kmeans, "agglomerative": _fit_agglomerative}
)


def knee_eps(vectors: np.ndarray, min_samples: int = DEFAULT_DBSCAN_MIN_SAMPLES) -> float:
    """DBSCAN radius (cosine distance) at the knee of the sorted k-distance curve, k = min_samples.

    k-distance: cosine distance to the min_samples-th point of a point's neighbourhood,
    the point itself counted, as sklearn's DBSCAN counts it; so a point is a core point
    exactly when its k-distance <= eps, and the knee splits the curve into core points
    (left) and the rest. Sorted ascending, the curve stays low across dense regions and
    climbs where points stop having close neighbours. With both axes scaled to [0, 1],
    the knee is the point farthest below the chord joining the curve's two ends (the
    maximum distance to the chord; on a curve that never drops below it, a straight or
    concave curve with no density drop to find, the median k-distance is used instead).
    """
    from sklearn.neighbors import NearestNeighbors

    vectors = check_unit_vectors(vectors)
    n = vectors.shape[0]
    # min_samples = 1 makes every point core with k-distance 0 (itself): every point a cluster.
    min_samples = _int_param({"min_samples": min_samples}, "min_samples", DEFAULT_DBSCAN_MIN_SAMPLES, low=2)
    if n <= min_samples:
        raise InvalidFieldError("min_samples", f"must be below the number of items ({n}) for DBSCAN, got {min_samples}")
    nn = NearestNeighbors(n_neighbors=min_samples, metric="cosine", algorithm="brute").fit(vectors)
    distances, _ = nn.kneighbors(vectors)
    # Rounding can make cosine distances of near-duplicates slightly negative.
    curve = np.sort(np.clip(distances[:, -1], 0.0, None))
    knee, depth = curve_knee(curve)
    eps = curve[knee] if depth > 0 else np.median(curve)
    # DBSCAN rejects eps = 0, which a space of exact duplicates would give.
    return float(max(eps, 1e-6))


def _choose_k(vectors: np.ndarray, seed: int, params: Mapping[str, object]) -> tuple[int, np.ndarray, dict[int, float]]:
    """The k in [k_min, k_max] whose KMeans labels score the highest silhouette (smallest k on ties)."""
    from sklearn.cluster import KMeans

    m = vectors.shape[0]
    if m < 3:
        raise InvalidFieldError("vectors", f"needs at least 3 items to choose k by silhouette, got {m}")
    k_min = _int_param(params, "k_min", 2, low=2)
    k_max = _int_param(params, "k_max", min(DEFAULT_K_MAX, m - 1), low=2)
    if k_max > m - 1:
        raise InvalidFieldError("k_max", f"must be at most items - 1 = {m - 1} for a silhouette, got {k_max}")
    if k_min > k_max:
        raise InvalidFieldError("k_min", f"must be at most k_max = {k_max}, got {k_min}")
    sample_size = _int_param(params, "silhouette_sample", DEFAULT_SILHOUETTE_SAMPLE, low=2)
    # One sample for every k, so the scores compare like with like.
    sample = _sample(m, sample_size, np.random.default_rng([seed, 1]))
    scores: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(k_min, k_max + 1):
        labels = KMeans(n_clusters=k, n_init=_KMEANS_N_INIT, random_state=seed).fit_predict(vectors)
        scores[k] = _silhouette(vectors, labels, sample)
        if not math.isnan(scores[k]) and (best is None or scores[k] > best[0]):
            best = (scores[k], k, labels)
    if best is None:
        raise InvalidFieldError("silhouette_sample", "left no k with a defined silhouette; use a larger sample")
    return best[1], best[2], scores


def _silhouette(vectors: np.ndarray, labels: np.ndarray, sample: np.ndarray | None) -> float:
    from sklearn.metrics import silhouette_score

    points, picked = (vectors, labels) if sample is None else (vectors[sample], labels[sample])
    # Undefined unless the sample holds 2..len-1 distinct labels.
    if not 2 <= len(np.unique(picked)) <= len(picked) - 1:
        return float("nan")
    return float(silhouette_score(points, picked, metric="cosine"))


# --- sampling and assignment ---------------------------------------------------------------


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted rows of a seeded sample of `size` of n rows; None when that is all of them."""
    if n <= size:
        return None
    return np.sort(rng.choice(n, size=size, replace=False))


def sample_fit_rows(n: int, max_fit_items: int, seed: int) -> np.ndarray | None:
    return _sample(n, max_fit_items, np.random.default_rng([seed, 0]))


def extend_labels(vectors: np.ndarray, fit_rows: np.ndarray, fit_labels: np.ndarray, keep_noise: bool) -> np.ndarray:
    """Labels for every row: the fitted ones as they are, the rest by nearest centroid (cosine).

    For density methods (keep_noise) a row joins its nearest cluster only if it is at
    least as similar to the centroid as that cluster's least similar fitted member;
    otherwise it stays noise, as it would have in a fit of every row.
    """
    n = vectors.shape[0]
    labels = np.full(n, NOISE, dtype=np.int64)
    labels[fit_rows] = fit_labels
    fitted = vectors[fit_rows]
    ids, centroids = cluster_centroids(fitted, fit_labels)
    if not len(ids):
        return labels
    floor = np.full(len(ids), -np.inf)
    if keep_noise:
        member = fit_labels >= 0
        own = np.searchsorted(ids, fit_labels[member])
        sims = np.einsum("ij,ij->i", fitted[member], centroids[own])
        floor = np.full(len(ids), np.inf)
        np.minimum.at(floor, own, sims)
    rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
    for start in range(0, len(rest), _BLOCK):
        rows = rest[start : start + _BLOCK]
        sims = vectors[rows] @ centroids.T
        nearest = np.argmax(sims, axis=1)
        close = sims[np.arange(len(rows)), nearest] >= floor[nearest]
        labels[rows] = np.where(close, ids[nearest], NOISE)
    return labels


def cluster_centroids(vectors: np.ndarray, labels: np.ndarray, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ids present (sorted, noise excluded) and each one's unit mean direction, as `dtype`."""
    member = labels >= 0
    ids = np.unique(labels[member])
    sums = np.zeros((len(ids), vectors.shape[1]), dtype=np.float64)
    # Block by block, sorted by cluster and summed per run: np.add.at over a million rows
    # is several times slower, and one float64 copy of every vector would double memory.
    for start in range(0, len(labels), _BLOCK):
        block = labels[start : start + _BLOCK]
        rows = np.flatnonzero(block >= 0)
        order = rows[np.argsort(block[rows], kind="stable")]
        present, first = np.unique(block[order], return_index=True)
        if len(present):
            run_sums = np.add.reduceat(vectors[start + order].astype(np.float64), first, axis=0)
            sums[np.searchsorted(ids, present)] += run_sums
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    # A cluster of exactly opposite vectors has no mean direction; any unit vector serves.
    return ids, (sums / np.where(norms > 0, norms, 1.0)).astype(dtype, copy=False)


def number_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0.. by decreasing size, ties by first row; noise stays -1."""
    out = np.full(len(labels), NOISE, dtype=np.int32)
    member = labels >= 0
    ids, first, counts = np.unique(labels[member], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    new = np.empty(len(ids), dtype=np.int32)
    new[order] = np.arange(len(ids), dtype=np.int32)
    out[member] = new[np.searchsorted(ids, labels[member])]
    return out


def check_method(method: str, params: Mapping[str, object]) -> str:
    if method not in _METHOD_PARAMS:
        raise InvalidFieldError("method", f"must be one of {', '.join(CLUSTER_METHODS)}, got {method!r}")
    allowed = _METHOD_PARAMS[method]
    for name in params:
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            raise InvalidFieldError(name, f"is not a parameter of method {method!r}; it takes {expected}")
    return method


def _int_param(params: Mapping[str, object], name: str, default: int, low: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InvalidFieldError(name, f"must be an integer >= {low}, got {value!r}")
    return int(value)


def check_unit_vectors(vectors: np.ndarray) -> np.ndarray:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise InvalidFieldError("vectors", "must be a float numpy array of shape [items, dim]")
    if vectors.shape[0] < 2 or vectors.shape[1] < 1:
        raise InvalidFieldError("vectors", f"must hold at least 2 items of dim >= 1, got shape {vectors.shape}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.all(np.isfinite(norms)) or np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
        raise InvalidFieldError("vectors", "must be finite and L2-normalised (every row of norm 1)")
    return vectors

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

import math
import numbers
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import AbstractSet, Mapping, Sequence

import numpy as np
import pyarrow as pa

from vitrina.indexer.maps.cluster_order import member_ranks
from vitrina.indexer.checks import positive_int
from vitrina.schemas.errors import InvalidFieldError
from vitrina.schemas.bundle_files import CLUSTER_LABELS_SCHEMA, CLUSTERS_SCHEMA, read_checked, write_checked
from vitrina.training.metrics.clustering import curve_knee

__all__ = [
    "CLUSTERS_SCHEMA",
    "CLUSTER_LABELS_SCHEMA",
    "CLUSTER_METHODS",
    "ClusterInfo",
    "ClusterLabels",
    "ClusterSummary",
    "Clustering",
    "cluster_space",
    "clusters_table",
    "ctfidf_keywords",
    "knee_eps",
    "labels_table",
    "read_cluster_labels",
    "read_clusters",
    "write_cluster_labels",
    "write_clusters",
]

NOISE = -1
NOISE_NAME = "noise"
TOP_KEYWORDS = 3

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
_DENSITY_METHODS = frozenset({"hdbscan", "dbscan"})

# Above this many items the methods are fitted on a seeded sample of this size and the
# rest assigned to the nearest centroid: Ward needs the n(n-1)/2 condensed distance
# matrix (1.6 GB of float64 at 20 000 items, 400 GB at 1M), DBSCAN keeps every point's
# eps-neighbourhood in memory, and HDBSCAN's core distances and spanning tree cost
# O(n^2) time in embedding dimensions where space-partitioning trees stop pruning;
# on a 2-core build machine none of that finishes for a million items.
DEFAULT_MAX_FIT_ITEMS = 20_000
DEFAULT_REPRESENTATIVES = 5
DEFAULT_DBSCAN_MIN_SAMPLES = 5
DEFAULT_K_MAX = 40
# silhouette_score is O(m^2) in the points it scores; 3000 keeps it to ~9M distances per k.
DEFAULT_SILHOUETTE_SAMPLE = 3000
_KMEANS_N_INIT = 4
# Rows per block when summing or assigning to centroids: bounds the temporary copies and [rows, clusters] blocks.
_BLOCK = 65_536
# Norms further than this from 1 mean the caller forgot to normalise: cosine maths would be wrong.
_NORM_TOLERANCE = 1e-3

_WORD = re.compile(r"[^\W\d_]{3,}")
# Small on purpose: c-TF-IDF already discounts words common to every cluster; this only
# drops function words that would otherwise win in clusters with very short texts.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    about above after again against all also and any are because been before being below
    between both but can could did does doing down during each few for from further had has
    have having her here hers herself him himself his how into its itself just more most
    not now off once only other our ours ourselves out over own same she should some such
    than that the their theirs them themselves then there these they this those through too
    under until very was were what when where which while who whom why will with would you
    your yours yourself yourselves
    """.split()
)


@dataclass(frozen=True)
class ClusterInfo:
    """One cluster of a Clustering; `representatives` are row numbers, most central first."""

    cluster: int
    size: int
    name: str
    keywords: tuple[str, ...]
    representatives: tuple[int, ...]


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


@dataclass(frozen=True)
class ClusterSummary:
    """One row of a clusters.parquet, as read back."""

    method: str
    cluster: int
    size: int
    name: str
    keywords: tuple[str, ...]
    representative_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ClusterLabels:
    """One method's labels from a cluster labels file: labels[i] is the cluster of ids[i]."""

    method: str
    ids: list[str]
    labels: np.ndarray


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
    vectors = _check_vectors(vectors)
    n = vectors.shape[0]
    method = _check_method(method, params)
    seed = _seed(seed)
    representatives = positive_int("representatives", representatives)
    max_fit_items = positive_int("max_fit_items", max_fit_items)
    if max_fit_items < 3:
        raise InvalidFieldError("max_fit_items", f"must be at least 3 to leave something to fit, got {max_fit_items}")
    texts = _check_texts(texts, n)

    fit_rows = _fit_rows(n, max_fit_items, seed)
    fitted = vectors if fit_rows is None else vectors[fit_rows]
    fit_labels, used, silhouette = _FITTERS[method](fitted, seed, params)
    if fit_rows is None:
        labels = fit_labels
    else:
        labels = _extend_labels(vectors, fit_rows, fit_labels, keep_noise=method in _DENSITY_METHODS)
    labels = _number_by_size(labels)
    used["fit_items"] = int(fitted.shape[0])
    ids, centroids = _centroids(vectors, labels, dtype=np.float64)
    member_rank = member_ranks(vectors, labels, ids, centroids)
    clusters = _describe(labels, member_rank, texts, representatives)
    return Clustering(method, labels, member_rank, clusters, MappingProxyType(used), MappingProxyType(silhouette))


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


_FITTERS = MappingProxyType(
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

    vectors = _check_vectors(vectors)
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


def _fit_rows(n: int, max_fit_items: int, seed: int) -> np.ndarray | None:
    return _sample(n, max_fit_items, np.random.default_rng([seed, 0]))


def _extend_labels(vectors: np.ndarray, fit_rows: np.ndarray, fit_labels: np.ndarray, keep_noise: bool) -> np.ndarray:
    """Labels for every row: the fitted ones as they are, the rest by nearest centroid (cosine).

    For density methods (keep_noise) a row joins its nearest cluster only if it is at
    least as similar to the centroid as that cluster's least similar fitted member;
    otherwise it stays noise, as it would have in a fit of every row.
    """
    n = vectors.shape[0]
    labels = np.full(n, NOISE, dtype=np.int64)
    labels[fit_rows] = fit_labels
    fitted = vectors[fit_rows]
    ids, centroids = _centroids(fitted, fit_labels)
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


def _centroids(vectors: np.ndarray, labels: np.ndarray, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
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


def _number_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0.. by decreasing size, ties by first row; noise stays -1."""
    out = np.full(len(labels), NOISE, dtype=np.int32)
    member = labels >= 0
    ids, first, counts = np.unique(labels[member], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    new = np.empty(len(ids), dtype=np.int32)
    new[order] = np.arange(len(ids), dtype=np.int32)
    out[member] = new[np.searchsorted(ids, labels[member])]
    return out


# --- describing clusters -------------------------------------------------------------------


def _describe(
    labels: np.ndarray, member_rank: np.ndarray, texts: list[str] | None, representatives: int
) -> tuple[ClusterInfo, ...]:
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    keywords = _cluster_keywords(labels, texts, len(ids))
    # The representatives are the head of the stored order, so the API's first page of a
    # cluster's items always starts with them.
    head = np.flatnonzero((labels >= 0) & (member_rank < representatives))
    head = head[np.lexsort((member_rank[head], labels[head]))]
    starts = np.searchsorted(labels[head], ids)
    stops = np.append(starts[1:], len(head))
    infos = [
        ClusterInfo(
            cluster=int(c),
            size=int(size),
            name=", ".join(keywords[c]) if keywords[c] else f"cluster {c}",
            keywords=tuple(keywords[c]),
            representatives=tuple(int(r) for r in head[start:stop]),
        )
        for c, size, start, stop in zip(ids, sizes, starts, stops)
    ]
    noise = int((labels == NOISE).sum())
    if noise:
        infos.append(ClusterInfo(NOISE, noise, NOISE_NAME, (), ()))
    return tuple(infos)


def _cluster_keywords(labels: np.ndarray, texts: list[str] | None, n_clusters: int) -> list[list[str]]:
    if texts is None:
        return [[] for _ in range(n_clusters)]
    documents = [[] for _ in range(n_clusters)]
    for label, text in zip(labels.tolist(), texts):
        if label >= 0 and text:
            documents[label].append(text)
    return ctfidf_keywords(["\n".join(d) for d in documents])


def ctfidf_keywords(
    documents: Sequence[str], top: int = TOP_KEYWORDS, stop_words: AbstractSet[str] = ENGLISH_STOP_WORDS
) -> list[list[str]]:
    """Top keywords of each class document (a class's texts joined), by c-TF-IDF, best first.

    score(t, c) = tf(t, c) * log(1 + A / f(t)), as BERTopic's c-TF-IDF: tf is t's share
    of class c's words, f(t) is t's count over all classes and A the average number of
    words per class. A word frequent everywhere gets a small log factor, one frequent in
    a single class a large one. Words: lowercase runs of >= 3 letters, minus stop_words.
    Ties go to the alphabetically first word, so names do not depend on text order.
    """
    top = positive_int("top", top)
    counts = [Counter(w for w in _WORD.findall(d.lower()) if w not in stop_words) for d in documents]
    totals = [sum(c.values()) for c in counts]
    if not documents or not sum(totals):
        return [[] for _ in documents]
    across: Counter[str] = Counter()
    for c in counts:
        across.update(c)
    average = sum(totals) / len(documents)
    keywords = []
    for c, total in zip(counts, totals):
        scored = sorted(((-(n / total) * math.log1p(average / across[w]), w) for w, n in c.items()))
        keywords.append([w for _, w in scored[:top]])
    return keywords


# --- argument checks -----------------------------------------------------------------------


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise InvalidFieldError("vectors", "must be a float numpy array of shape [items, dim]")
    if vectors.shape[0] < 2 or vectors.shape[1] < 1:
        raise InvalidFieldError("vectors", f"must hold at least 2 items of dim >= 1, got shape {vectors.shape}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.all(np.isfinite(norms)) or np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
        raise InvalidFieldError("vectors", "must be finite and L2-normalised (every row of norm 1)")
    return vectors


def _check_method(method: str, params: Mapping[str, object]) -> str:
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


# --- Parquet -------------------------------------------------------------------------------


def clusters_table(clustering: Clustering, ids: Sequence[str]) -> pa.Table:
    """`clustering`'s clusters as a CLUSTERS_SCHEMA table; ids[i] names row i of the vectors."""
    ids = _check_ids(ids, clustering)
    rows = clustering.clusters
    return pa.table(
        {
            "method": [clustering.method] * len(rows),
            "cluster": [c.cluster for c in rows],
            "size": [c.size for c in rows],
            "name": [c.name for c in rows],
            "keywords": [list(c.keywords) for c in rows],
            "representative_ids": [[ids[r] for r in c.representatives] for c in rows],
        },
        schema=CLUSTERS_SCHEMA,
    )


def labels_table(clustering: Clustering, ids: Sequence[str]) -> pa.Table:
    """Every item's cluster (-1 noise) as a CLUSTER_LABELS_SCHEMA table, in row order."""
    ids = _check_ids(ids, clustering)
    return pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array([clustering.method] * len(ids), pa.string()),
            pa.array(clustering.labels, pa.int32()),
        ],
        schema=CLUSTER_LABELS_SCHEMA,
    )


def _check_ids(ids: Sequence[str], clustering: Clustering) -> list[str]:
    ids = list(ids)
    n = len(clustering.labels)
    if len(ids) != n:
        raise InvalidFieldError("ids", f"has {len(ids)} entries but the clustering has {n} rows; pass one id per row")
    if len(set(ids)) != n:
        raise InvalidFieldError("ids", "has duplicates; every item needs its own id")
    return ids


def write_clusters(table: pa.Table, path: str | Path) -> None:
    write_checked(table, CLUSTERS_SCHEMA, path)


def read_clusters(path: str | Path) -> list[ClusterSummary]:
    """Read a clusters.parquet; SchemaMismatchError / InvalidFieldError name the file and field."""
    path = Path(path)
    table = read_checked(path, CLUSTERS_SCHEMA)
    summaries = []
    for row in table.to_pylist():
        for name in ("keywords", "representative_ids"):
            if any(v is None for v in row[name]):
                raise InvalidFieldError(name, f"has null entries in cluster {row['cluster']}", path)
        summaries.append(
            ClusterSummary(
                row["method"], row["cluster"], row["size"], row["name"],
                tuple(row["keywords"]), tuple(row["representative_ids"]),
            )
        )
    for s in summaries:
        if s.cluster < NOISE:
            raise InvalidFieldError("cluster", f"must be >= -1 (noise), got {s.cluster}", path)
        if s.size < 1:
            raise InvalidFieldError("size", f"must be >= 1, got {s.size} for cluster {s.cluster}", path)
    if len({(s.method, s.cluster) for s in summaries}) != len(summaries):
        raise InvalidFieldError("cluster", "repeats within a method; (method, cluster) must be unique", path)
    return summaries


def write_cluster_labels(table: pa.Table, path: str | Path) -> None:
    write_checked(table, CLUSTER_LABELS_SCHEMA, path)


def read_cluster_labels(path: str | Path) -> dict[str, ClusterLabels]:
    """Read a cluster labels file, one ClusterLabels per method, rows in file order."""
    path = Path(path)
    table = read_checked(path, CLUSTER_LABELS_SCHEMA)
    methods = np.asarray(table.column("method").to_pylist(), dtype=object)
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    labels = table.column("cluster").to_numpy().astype(np.int32, copy=False)
    if labels.size and labels.min() < NOISE:
        raise InvalidFieldError("cluster", f"must be >= -1 (noise), got {int(labels.min())}", path)
    out = {}
    for method in dict.fromkeys(methods.tolist()):
        rows = methods == method
        method_ids = ids[rows].tolist()
        if len(set(method_ids)) != len(method_ids):
            raise InvalidFieldError("id", f"repeats within method {method!r}; each item has one label", path)
        out[method] = ClusterLabels(method, method_ids, labels[rows])
    return out



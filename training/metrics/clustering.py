"""Agreement between clusters found in a space and a categorical attribute (ARI, NMI).

As in the Food-101 study: KMeans with k = the number of classes, DBSCAN (eps read
off the k-distance curve's knee, so no per-collection tuning) and agglomerative
(Ward) clustering, each scored with the adjusted Rand index and normalised mutual
information against the labels. Vectors are L2-normalised, so Euclidean distance
orders neighbours exactly as cosine similarity does.

DBSCAN's noise points (label -1) count as one cluster, the convention of
scikit-learn's scores; the noise fraction is reported beside them so a high score
from "everything is noise" cannot pass unnoticed.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError

METHODS: tuple[str, ...] = ("kmeans", "dbscan", "agglomerative")
DEFAULT_MAX_ITEMS = 3000
DEFAULT_MIN_SAMPLES = 5


def _contingency(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> np.ndarray:
    if len(labels_true) != len(labels_pred):
        raise EvaluatorError("labels_pred", f"has {len(labels_pred)} labels, labels_true has {len(labels_true)}")
    _, t = np.unique(np.asarray(labels_true, dtype=object).astype(str), return_inverse=True)
    _, p = np.unique(np.asarray(labels_pred, dtype=object).astype(str), return_inverse=True)
    table = np.zeros((t.max(initial=-1) + 1, p.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table


def _pairs(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x * (x - 1) / 2


def adjusted_rand_index(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Rand index corrected for chance: 0 for random labelling, 1 for identical partitions."""
    table = _contingency(labels_true, labels_pred)
    n = table.sum()
    index = _pairs(table).sum()
    rows, cols = _pairs(table.sum(1)).sum(), _pairs(table.sum(0)).sum()
    expected = rows * cols / _pairs(np.array(n)) if n > 1 else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((index - expected) / (maximum - expected))


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Mutual information over the arithmetic mean of the two entropies (scikit-learn's default)."""
    table = _contingency(labels_true, labels_pred)
    if table.shape[0] == table.shape[1] == 1 or table.size == 0:
        return 1.0
    n = table.sum()
    rows, cols = table.sum(1, keepdims=True), table.sum(0, keepdims=True)
    nz = table > 0
    mi = float((table[nz] / n * np.log(n * table[nz] / (rows @ cols)[nz])).sum())
    if mi <= 0:
        return 0.0
    return mi / ((_entropy(rows.ravel()) + _entropy(cols.ravel())) / 2)


def knee_eps(vectors: np.ndarray, min_samples: int = DEFAULT_MIN_SAMPLES) -> float:
    """DBSCAN radius at the knee of the sorted k-distance curve (k = min_samples).

    The knee is the point farthest below the chord joining the curve's ends, with
    both axes scaled to [0, 1]: where distances start to climb steeply, i.e.
    where points stop being inside dense regions (the heuristic of the DBSCAN
    paper). In high-dimensional embedding spaces the curve climbs steeply only for
    the last few percent of points, so this eps often chains most items into one
    cluster; the noise fraction and cluster count are reported so that shows.
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(vectors)
    if n <= min_samples:
        raise EvaluatorError("vectors", f"DBSCAN needs more than min_samples={min_samples} points, got {n}")
    # +1: each point is its own nearest neighbour.
    distances, _ = NearestNeighbors(n_neighbors=min_samples + 1).fit(vectors).kneighbors(vectors)
    curve = np.sort(distances[:, -1])
    if curve[-1] - curve[0] <= 0:
        return float(max(curve[0], 1e-6))
    knee, _ = curve_knee(curve)
    return float(max(curve[knee], 1e-6))


def curve_knee(curve: np.ndarray) -> tuple[int, float]:
    """(index, depth) of the point of an ascending curve farthest below the chord joining its
    ends, both axes scaled to [0, 1]; depth <= 0 means the curve never drops below the chord
    (straight or concave: no density drop to find)."""
    n = len(curve)
    span = curve[-1] - curve[0]
    below = np.linspace(0.0, 1.0, n) - (curve - curve[0]) / span if span > 0 else np.zeros(n)
    knee = int(np.argmax(below))
    return knee, float(below[knee])


def cluster(vectors: np.ndarray, method: str, n_clusters: int, seed: int = 0,
            min_samples: int = DEFAULT_MIN_SAMPLES) -> tuple[np.ndarray, dict[str, float]]:
    """Cluster labels of `vectors` and what the method chose (eps, clusters found, noise)."""
    from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans

    info: dict[str, float] = {}
    if method == "kmeans":
        labels = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit_predict(vectors)
    elif method == "agglomerative":
        labels = AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(vectors)
    elif method == "dbscan":
        eps = knee_eps(vectors, min_samples)
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(vectors)
        info = {"eps": eps, "noise_fraction": float((labels == -1).mean())}
    else:
        raise EvaluatorError("method", f"unknown clustering method {method!r}; expected one of {', '.join(METHODS)}")
    info["clusters"] = float(len(set(labels.tolist()) - {-1}))
    return labels, info


def clustering_agreement(
    vectors: np.ndarray,
    labels: Sequence[Any],
    methods: Sequence[str] = METHODS,
    seed: int = 0,
    max_items: int | None = DEFAULT_MAX_ITEMS,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> dict[str, float]:
    """`{method}_ari`, `{method}_nmi` (+ what each method chose) for the items whose label is not None.

    At most `max_items` labelled items (a seeded sample) are clustered:
    agglomerative clustering is quadratic in memory.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise EvaluatorError("labels", f"expected one label per vector row, got {len(labels)} labels for {vectors.shape}")
    keep = np.array([label is not None for label in labels], dtype=bool)
    rows = np.flatnonzero(keep)
    if max_items is not None and len(rows) > max_items:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_items, replace=False))
    kept_labels = [str(labels[i]) for i in rows]
    classes = len(set(kept_labels))
    if classes < 2:
        raise EvaluatorError("labels", f"clustering agreement needs at least 2 classes, got {classes}")
    out: dict[str, float] = {"items": float(len(rows)), "classes": float(classes)}
    points = vectors[rows]
    for method in methods:
        predicted, info = cluster(points, method, classes, seed, min_samples)
        out[f"{method}_ari"] = adjusted_rand_index(kept_labels, predicted)
        out[f"{method}_nmi"] = normalized_mutual_info(kept_labels, predicted)
        out.update({f"{method}_{key}": value for key, value in info.items()})
    return out


class ClusteringEvaluator(Evaluator):
    """ARI/NMI of clusterings of a matrix of vectors against one attribute's labels."""

    greater_is_better = True

    def __init__(self, labels: Sequence[Any], attribute: str, methods: Sequence[str] = METHODS, seed: int = 0,
                 max_items: int | None = DEFAULT_MAX_ITEMS, name: str | None = None):
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise EvaluatorError("methods", f"unknown or no clustering methods {unknown}; expected some of {', '.join(METHODS)}")
        self.labels = list(labels)
        self.methods = list(methods)
        self.seed = seed
        self.max_items = max_items
        self.name = name if name is not None else f"clustering_{attribute}"
        self.primary_metric = f"{self.methods[0]}_ari"

    def compute(self, target: np.ndarray) -> dict[str, float]:
        return clustering_agreement(target, self.labels, self.methods, self.seed, self.max_items)

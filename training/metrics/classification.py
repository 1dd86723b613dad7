"""Classification metrics, and the label structure of a space read through its nearest neighbours.

`classification_metrics` is the research's report (accuracy, macro precision and
recall), written out so the definitions are visible: macro averages run over every
label seen in either `y_true` or `y_pred`, and a label never predicted has
precision 0 (scikit-learn's `zero_division=0`).

`neighbour_label_metrics` needs no trained classifier: within one space, an item's
neighbours should share its category. It reports precision@k of the neighbours'
labels, hit@k (at least one of the k shares it), the rank of the first neighbour
that shares it, and leave-one-out kNN classification (majority vote of the k
nearest). Only labelled items take part, and an item alone in its class is no
query (nothing could be found for it).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError
from vitrina.training.metrics.ranking import TIE_TOLERANCE, tie_broken_order

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
DEFAULT_KNN_K = 10
_CHUNK = 1024
# Candidates fetched past the k-th neighbour, so ties at the cut are ordered like the rest.
_CUT_SLACK = 8


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any] | None = None) -> dict[str, float]:
    """accuracy, macro precision / recall / F1 over `labels` (default: every label in either argument)."""
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise EvaluatorError("y_pred", f"expected as many predictions as true labels, got {y_pred.shape} vs {y_true.shape}")
    if len(y_true) == 0:
        raise EvaluatorError("y_true", "no samples")
    if labels is None:
        labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=str)
    precision, recall, f1 = [], [], []
    for label in labels:
        true_pos = float(np.sum((y_true == label) & (y_pred == label)))
        predicted = float(np.sum(y_pred == label))
        actual = float(np.sum(y_true == label))
        p = true_pos / predicted if predicted else 0.0
        r = true_pos / actual if actual else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "classes": float(len(labels)),
    }


def _vote(neighbour_codes: np.ndarray) -> int:
    """Most frequent code; ties go to the label whose first vote is nearest."""
    values, first, counts = np.unique(neighbour_codes, return_index=True, return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    return int(values[best[np.argmin(first[best])]])


def neighbour_label_metrics(
    vectors: np.ndarray, labels: Sequence[Any], ks: Sequence[int] = DEFAULT_KS, knn_k: int = DEFAULT_KNN_K
) -> dict[str, float]:
    """precision@k, hit@k, first-relevant rank and kNN classification of `labels` from cosine neighbours."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise EvaluatorError("labels", f"expected one label per vector row, got {len(labels)} labels for {vectors.shape}")
    rows = np.array([i for i, label in enumerate(labels) if label is not None], dtype=np.int64)
    if len(rows) < 2:
        raise EvaluatorError("labels", f"needs at least 2 labelled items, got {len(rows)}")
    names, codes = np.unique(np.array([str(labels[i]) for i in rows], dtype=object), return_inverse=True)
    class_size = np.bincount(codes)
    points = vectors[rows]
    points = points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    top = min(max([*ks, knn_k]), len(points) - 1)
    queries = np.flatnonzero(class_size[codes] >= 2)
    precision = {k: [] for k in ks}
    hits = {k: [] for k in ks}
    first_rank, predicted = [], []
    for start in range(0, len(queries), _CHUNK):
        chunk = queries[start:start + _CHUNK]
        sims = points[chunk] @ points.T
        sims[np.arange(len(chunk)), chunk] = -np.inf  # an item is not its own neighbour
        same = codes[None, :] == codes[chunk, None]
        best_same = np.where(same, sims, -np.inf).max(1)
        # Rank of the first relevant neighbour = 1 + how many items score strictly higher,
        # beyond the tie tolerance: a twin a few ulps above is a tie, not a better item.
        first_rank.append(1 + (sims > best_same[:, None] + TIE_TOLERANCE).sum(1))
        # A few candidates past the cut, so a near-tie straddling it falls by row too (unless
        # it has more members than that); near-ties by row number, so the result depends on
        # neither the partition's order nor the last bits of the similarity kernel.
        fetched = min(top + _CUT_SLACK, len(points) - 1)
        nearest = np.argpartition(-sims, fetched - 1, axis=1)[:, :fetched]
        order = tie_broken_order(np.take_along_axis(sims, nearest, 1), nearest)
        nearest = np.take_along_axis(nearest, order, 1)[:, :top]
        relevant = same[np.arange(len(chunk))[:, None], nearest]
        for k in ks:
            kk = min(k, top)
            precision[k].append(relevant[:, :kk].mean(1))
            hits[k].append(relevant[:, :kk].any(1))
        predicted.extend(_vote(codes[row[:min(knn_k, top)]]) for row in nearest)
    ranks = np.concatenate(first_rank)
    out: dict[str, float] = {"queries": float(len(queries)), "classes": float(len(names))}
    for k in ks:
        out[f"precision@{k}"] = float(np.concatenate(precision[k]).mean())
        out[f"hit@{k}"] = float(np.concatenate(hits[k]).mean())
    out["median_rank"] = float(np.median(ranks))
    out["mean_reciprocal_rank"] = float(np.mean(1.0 / ranks))
    knn = classification_metrics(names[codes[queries]], names[np.array(predicted, dtype=np.int64)])
    out.update({f"knn_{key}": value for key, value in knn.items() if key != "classes"})
    return out


class NeighbourLabelEvaluator(Evaluator):
    """Within-modal retrieval of same-label items and kNN classification, on a matrix of vectors."""

    greater_is_better = True

    def __init__(self, labels: Sequence[Any], attribute: str, ks: Sequence[int] = DEFAULT_KS,
                 knn_k: int = DEFAULT_KNN_K, name: str | None = None):
        if not ks or min(ks) < 1 or knn_k < 1:
            raise EvaluatorError("ks", f"k values must be positive, got ks={list(ks)} knn_k={knn_k}")
        self.labels = list(labels)
        self.ks = sorted(set(ks))
        self.knn_k = knn_k
        self.name = name if name is not None else f"neighbours_{attribute}"
        self.primary_metric = f"precision@{self.ks[-1]}"

    def compute(self, target: np.ndarray) -> dict[str, float]:
        return neighbour_label_metrics(target, self.labels, self.ks, self.knn_k)

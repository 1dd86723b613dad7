"""Cross-modal retrieval metrics: recall@k and median rank from similarity matrices, chunked.

Relevance is given by labels: gallery item j is a correct answer to query i when
they share a label. The default labels make query i match gallery item i only
(strict pairs). Labels of shape [n, L] give several relations at once, any of
which makes a match (e.g. "same picture" or "same text", for collections with
duplicates); a negative label never matches.

A query's rank is 1 + the number of *irrelevant* gallery items scoring at least as
high as its best relevant one, less TIE_TOLERANCE. Ties count against the query, so a
gallery full of identical vectors never looks good by accident of sort order, and
near-ties count as ties: two identical vectors score a few ulps apart depending on
where they sit in the matrix product and on the machine's kernels, and a rank must
not depend on that.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError, prefix_metrics
from vitrina.training.metrics.ranking import TIE_TOLERANCE

DEFAULT_KS = (1, 5, 10)


def ranks_from_similarity(similarity: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """1-based rank of each query's best relevant gallery item, from a [queries, gallery] block."""
    similarity = np.asarray(similarity, dtype=np.float32)
    relevant = relevance(query_labels, gallery_labels)
    if relevant.shape != similarity.shape:
        raise EvaluatorError("labels", f"labels give a {relevant.shape} relevance matrix for a {similarity.shape} similarity matrix")
    without_answer = np.flatnonzero(~relevant.any(axis=1))
    if len(without_answer):
        raise EvaluatorError("gallery_labels", f"{len(without_answer)} queries (first: row {without_answer[0]}) have no relevant gallery item")
    best = np.where(relevant, similarity, -np.inf).max(axis=1)
    return 1 + ((similarity >= best[:, None] - TIE_TOLERANCE) & ~relevant).sum(axis=1).astype(np.int64)


def relevance(query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """bool [queries, gallery]: any label column equal (and non-negative)."""
    q, g = _as_columns(query_labels), _as_columns(gallery_labels)
    if q.shape[1] != g.shape[1]:
        raise EvaluatorError("labels", f"query labels have {q.shape[1]} columns, gallery labels {g.shape[1]}")
    relevant = np.zeros((len(q), len(g)), dtype=bool)
    for column in range(q.shape[1]):
        relevant |= (q[:, column][:, None] == g[:, column][None, :]) & (q[:, column][:, None] >= 0)
    return relevant


def retrieval_ranks(
    queries: np.ndarray,
    gallery: np.ndarray,
    query_labels: np.ndarray | None = None,
    gallery_labels: np.ndarray | None = None,
    chunk_size: int = 1024,
) -> np.ndarray:
    """Ranks for every query against the whole gallery (inner product = cosine on normalised vectors).

    The similarity matrix is built `chunk_size` query rows at a time, so memory stays
    at chunk_size x gallery floats whatever the number of queries.
    """
    queries, gallery = np.asarray(queries, dtype=np.float32), np.asarray(gallery, dtype=np.float32)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise EvaluatorError("queries", f"queries {queries.shape} and gallery {gallery.shape} must be [n, d] with one d")
    if chunk_size <= 0:
        raise EvaluatorError("chunk_size", f"must be positive, got {chunk_size}")
    if query_labels is None and gallery_labels is None:
        if len(queries) != len(gallery):
            raise EvaluatorError("query_labels", f"{len(queries)} queries and {len(gallery)} gallery items: pass labels unless row i pairs with row i")
        query_labels = gallery_labels = np.arange(len(queries))
    elif query_labels is None or gallery_labels is None:
        raise EvaluatorError("query_labels" if query_labels is None else "gallery_labels", "give both label arrays or neither")
    query_labels, gallery_labels = _as_columns(query_labels), _as_columns(gallery_labels)
    if len(query_labels) != len(queries) or len(gallery_labels) != len(gallery):
        raise EvaluatorError("labels", f"{len(query_labels)} query labels for {len(queries)} queries, "
                                       f"{len(gallery_labels)} gallery labels for {len(gallery)} gallery items")
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk_size):
        stop = start + chunk_size
        ranks[start:stop] = ranks_from_similarity(queries[start:stop] @ gallery.T, query_labels[start:stop], gallery_labels)
    return ranks


def rank_summary(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    ranks = np.asarray(ranks)
    if len(ranks) == 0:
        raise EvaluatorError("ranks", "no queries to summarise")
    out = {f"recall@{k}": float(np.mean(ranks <= k)) for k in sorted(set(ks))}
    out["median_rank"] = float(np.median(ranks))
    out["mean_rank"] = float(np.mean(ranks))
    out["queries"] = float(len(ranks))
    return out


def cross_modal_retrieval(
    image_vectors: np.ndarray,
    text_vectors: np.ndarray,
    labels: np.ndarray | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int = 1024,
) -> dict[str, dict[str, float]]:
    """Both directions over n (image, text) pairs: each text queries all images and vice versa."""
    if len(image_vectors) != len(text_vectors):
        raise EvaluatorError("text_vectors", f"{len(image_vectors)} images and {len(text_vectors)} texts: rows must be pairs")
    if labels is None:
        labels = np.arange(len(image_vectors))
    return {
        "text_to_image": rank_summary(retrieval_ranks(text_vectors, image_vectors, labels, labels, chunk_size), ks),
        "image_to_text": rank_summary(retrieval_ranks(image_vectors, text_vectors, labels, labels, chunk_size), ks),
    }


class CrossModalRetrievalEvaluator(Evaluator):
    """Called on (image_vectors, text_vectors) of paired rows; reports both directions, flat."""

    greater_is_better = True

    def __init__(self, labels: np.ndarray | None = None, ks: Sequence[int] = DEFAULT_KS, name: str = "retrieval"):
        if not ks or min(ks) <= 0:
            raise EvaluatorError("ks", f"give positive cut-offs, got {list(ks)}")
        self.labels, self.ks, self.name = labels, sorted(set(ks)), name
        self.primary_metric = f"text_to_image_recall@{max(self.ks)}"

    def compute(self, target: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
        image_vectors, text_vectors = target
        report = cross_modal_retrieval(image_vectors, text_vectors, self.labels, self.ks)
        out: dict[str, float] = {}
        for direction, summary in report.items():
            out.update(prefix_metrics(direction, summary))
        return out


def _as_columns(labels: Any) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return labels[:, None]
    if labels.ndim != 2:
        raise EvaluatorError("labels", f"must be [n] or [n, L], got shape {labels.shape}")
    return labels

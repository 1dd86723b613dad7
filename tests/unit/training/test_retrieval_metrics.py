"""Retrieval ranks and recall@k against a brute-force sort, on inputs with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from vitrina.training.metrics.evaluator import EvaluatorError
from vitrina.training.metrics.ranking import TIE_TOLERANCE
from vitrina.training.metrics.retrieval import (
    CrossModalRetrievalEvaluator,
    cross_modal_retrieval,
    rank_summary,
    ranks_from_similarity,
    retrieval_ranks,
)


def _brute_force_ranks(queries, gallery, query_labels, gallery_labels):
    """Sort each row, irrelevant items first among equal scores (ties count against).

    The data must have no near-tie at the decision (an irrelevant item within 10 x
    TIE_TOLERANCE of the best relevant one): there the metric's tolerance, not the sort,
    decides, and this reference would depend on the last bits of the scores."""
    ranks = []
    for q, q_label in zip(queries, query_labels):
        scores = gallery.astype(np.float64) @ q.astype(np.float64)
        relevant = [bool(np.any((np.atleast_1d(q_label) == np.atleast_1d(g)) & (np.atleast_1d(q_label) >= 0)))
                    for g in gallery_labels]
        best = max(s for s, r in zip(scores, relevant) if r)
        assert all(abs(s - best) > 10 * TIE_TOLERANCE for s, r in zip(scores, relevant) if not r)
        order = sorted(range(len(gallery)), key=lambda j: (-scores[j], relevant[j]))
        ranks.append(next(pos for pos, j in enumerate(order, start=1) if relevant[j]))
    return np.array(ranks)


def _unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ranks_match_brute_force_and_do_not_depend_on_chunking():
    rng = np.random.default_rng(0)
    queries, gallery = _unit(rng, 37, 8), _unit(rng, 37, 8)
    labels = np.arange(37)
    expected = _brute_force_ranks(queries, gallery, labels, labels)
    for chunk in (1, 5, 1024):
        assert np.array_equal(retrieval_ranks(queries, gallery, chunk_size=chunk), expected)


def test_duplicate_labels_and_multi_column_labels():
    rng = np.random.default_rng(1)
    queries, gallery = _unit(rng, 20, 6), _unit(rng, 20, 6)
    picture = rng.integers(0, 8, size=20)
    text = rng.integers(0, 12, size=20)
    labels = np.stack([picture, text], axis=1)
    got = retrieval_ranks(queries, gallery, labels, labels)
    assert np.array_equal(got, _brute_force_ranks(queries, gallery, labels, labels))
    # More relevant items can only improve a rank.
    assert np.all(got <= retrieval_ranks(queries, gallery))


def test_ties_count_against_the_query():
    gallery = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    # Own item is row 1; row 0 is an identical copy with another label.
    assert ranks_from_similarity(query @ gallery.T, np.array([1]), np.arange(3))[0] == 2
    # Same picture label: the copy is a correct answer.
    assert ranks_from_similarity(query @ gallery.T, np.array([7]), np.array([7, 7, 2]))[0] == 1


def test_near_ties_count_against_the_query_as_ties_do():
    # A twin that scores a few ulps below the own item (as the same vector can at another
    # position of a matrix product) is a tie; one TIE_TOLERANCE * 10 below is not.
    sims = np.array([[0.8, 0.8 - 1e-7, 0.8 - 1e-5, 0.1]], dtype=np.float32)
    assert ranks_from_similarity(sims, np.array([0]), np.arange(4))[0] == 2
    assert ranks_from_similarity(sims[:, [0, 2, 3]], np.array([0]), np.arange(3))[0] == 1
    assert 1e-7 < TIE_TOLERANCE < 1e-5


def test_negative_labels_never_match():
    sims = np.array([[0.9, 0.1]], dtype=np.float32)
    with pytest.raises(EvaluatorError, match="no relevant gallery item"):
        ranks_from_similarity(sims, np.array([-1]), np.array([-1, 3]))


def test_rank_summary_values():
    summary = rank_summary(np.array([1, 2, 3, 10, 11]), ks=(1, 5, 10))
    assert summary == {"recall@1": 0.2, "recall@5": 0.6, "recall@10": 0.8, "median_rank": 3.0, "mean_rank": 5.4, "queries": 5.0}


def test_cross_modal_retrieval_both_directions():
    rng = np.random.default_rng(2)
    images, texts = _unit(rng, 15, 4), _unit(rng, 15, 4)
    report = cross_modal_retrieval(images, texts, ks=(1, 5))
    labels = np.arange(15)
    t2i = _brute_force_ranks(texts, images, labels, labels)
    i2t = _brute_force_ranks(images, texts, labels, labels)
    assert report["text_to_image"]["recall@5"] == pytest.approx(np.mean(t2i <= 5))
    assert report["image_to_text"]["median_rank"] == pytest.approx(np.median(i2t))
    perfect = cross_modal_retrieval(images, images)
    assert perfect["text_to_image"]["recall@1"] == 1.0 and perfect["image_to_text"]["median_rank"] == 1.0


def test_evaluator_contract():
    rng = np.random.default_rng(3)
    images = _unit(rng, 10, 4)
    evaluator = CrossModalRetrievalEvaluator(ks=(1, 10))
    metrics = evaluator((images, images))
    assert evaluator.primary_key == "retrieval_text_to_image_recall@10"
    assert metrics[evaluator.primary_key] == 1.0 and "retrieval_image_to_text_median_rank" in metrics


def test_errors_name_the_field():
    with pytest.raises(EvaluatorError, match="query_labels"):
        retrieval_ranks(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(EvaluatorError, match="chunk_size"):
        retrieval_ranks(np.ones((2, 3)), np.ones((2, 3)), chunk_size=0)
    with pytest.raises(EvaluatorError, match="text_vectors"):
        cross_modal_retrieval(np.ones((2, 3)), np.ones((3, 3)))

"""Evaluation metrics against scikit-learn (the oracle) on known inputs, and the evaluator contract."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from vitrina.training.metrics.classification import (
    NeighbourLabelEvaluator,
    classification_metrics,
    neighbour_label_metrics,
)
from vitrina.training.metrics.clustering import (
    ClusteringEvaluator,
    adjusted_rand_index,
    clustering_agreement,
    knee_eps,
    normalized_mutual_info,
)
from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError, SequentialEvaluator, prefix_metrics


def _random_labelling(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    return rng.integers(0, rng.integers(1, 7), n), rng.integers(0, rng.integers(1, 7), n)


@pytest.mark.parametrize("seed", range(30))
def test_ari_and_nmi_match_sklearn(seed):
    a, b = _random_labelling(seed)
    assert adjusted_rand_index(a, b) == pytest.approx(skm.adjusted_rand_score(a, b), abs=1e-12)
    assert normalized_mutual_info(a, b) == pytest.approx(skm.normalized_mutual_info_score(a, b), abs=1e-9)


@pytest.mark.parametrize(
    "a,b",
    [
        ([0, 0, 0, 0], [1, 1, 1, 1]),  # one cluster each
        ([0, 1, 2, 3], [3, 2, 1, 0]),  # all singletons, relabelled
        ([0, 0, 1, 1], [0, 0, 0, 0]),  # one side trivial
        (["x", "x", "y", "y", "z"], ["b", "b", "a", "a", "a"]),  # string labels
    ],
)
def test_ari_and_nmi_edge_cases_match_sklearn(a, b):
    assert adjusted_rand_index(a, b) == pytest.approx(skm.adjusted_rand_score(a, b))
    assert normalized_mutual_info(a, b) == pytest.approx(skm.normalized_mutual_info_score(a, b))


@pytest.mark.parametrize("seed", range(20))
def test_classification_metrics_match_sklearn(seed):
    y_true, y_pred = _random_labelling(seed)
    got = classification_metrics(y_true, y_pred)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["macro_precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["macro_recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_classification_metrics_over_retained_labels_match_sklearn():
    y_true = ["cat", "cat", "dog", "dog", "eel", "fox"]
    y_pred = ["cat", "dog", "dog", "dog", "cat", "eel"]
    retained = ["cat", "dog"]
    got = classification_metrics(y_true, y_pred, labels=retained)
    assert got["macro_precision"] == pytest.approx(skm.precision_score(y_true, y_pred, labels=retained, average="macro", zero_division=0))
    assert got["macro_recall"] == pytest.approx(skm.recall_score(y_true, y_pred, labels=retained, average="macro", zero_division=0))
    assert got["classes"] == 2


def test_classification_metrics_reject_mismatched_lengths():
    with pytest.raises(EvaluatorError, match="y_pred: expected as many predictions"):
        classification_metrics([1, 2], [1])


def _blobs(seed=0, per=20, noise=0.05):
    rng = np.random.default_rng(seed)
    centres = np.eye(6)[:3]
    x = np.concatenate([c + rng.normal(0, noise, (per, 6)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [name for name in ("a", "b", "c") for _ in range(per)]


def test_neighbour_label_metrics_on_hand_made_points():
    # On an arc: a a b a b b. Cosine of these 2-D unit vectors orders them by angle (no ties).
    angles = np.array([0.0, 0.13, 0.2, 0.31, 1.0, 1.17])
    vectors = np.stack([np.cos(angles), np.sin(angles)], 1)
    labels = ["a", "a", "b", "a", "b", "b"]
    got = neighbour_label_metrics(vectors, labels, ks=(1, 2), knn_k=1)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")
    same = np.array(labels)[order] == np.array(labels)[:, None]
    assert got["precision@1"] == pytest.approx(same[:, 0].mean())
    assert got["precision@2"] == pytest.approx(same[:, :2].mean())
    first = np.array([1 + np.sum(sims[i] > sims[i][np.array(labels) == labels[i]][np.arange(6)[np.array(labels) == labels[i]] != i].max()) for i in range(6)])
    assert got["median_rank"] == pytest.approx(np.median(first))
    predicted = np.array(labels)[order[:, 0]]
    assert got["knn_accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))


def test_neighbour_label_metrics_take_near_twins_as_ties_counted_by_row():
    # Items 1 (label a) and 2 (label b, alone: no query) sit at the same angle either side of
    # item 0; three ulps on item 2 put it a hair (6e-8) closer. That is a tie: item 0's first
    # relevant neighbour has rank 1, and its nearest is the lower row, item 1.
    angle = 0.3
    vectors = np.array([[1, 0], [np.cos(angle), np.sin(angle)], [np.cos(angle), -np.sin(angle)], [0, 1], [0.1, 1]],
                       dtype=np.float32)
    for _ in range(3):
        vectors[2, 0] = np.nextafter(vectors[2, 0], np.float32(2))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert 0 < (unit @ unit[0])[2] - (unit @ unit[0])[1] < 1e-7
    got = neighbour_label_metrics(vectors, ["a", "a", "b", "c", "c"], ks=(1,), knn_k=1)
    # Queries: items 0, 1 (a) and 3, 4 (c); every one's nearest shares its label.
    assert got["queries"] == 4 and got["precision@1"] == 1.0 and got["median_rank"] == 1.0


def test_neighbour_label_metrics_skip_unlabelled_and_singleton_classes():
    vectors, labels = _blobs()
    labels = list(labels)
    labels[0] = None
    labels[1] = "lonely"
    got = neighbour_label_metrics(vectors, labels)
    assert got["queries"] == 58  # 60 - one unlabelled - one alone in its class
    assert got["precision@10"] > 0.95  # the "lonely" item is a wrong neighbour for some "a" queries


def test_knee_eps_separates_dense_blobs_from_the_gaps():
    vectors, _ = _blobs(noise=0.02)
    eps = knee_eps(vectors, min_samples=5)
    within = np.linalg.norm(vectors[:20, None] - vectors[None, :20], axis=-1).max()
    between = np.linalg.norm(vectors[:20, None] - vectors[None, 20:40], axis=-1).min()
    assert 0 < eps < between
    assert eps > 0.1 * within


def test_clustering_agreement_on_separable_blobs_is_perfect_and_deterministic():
    vectors, labels = _blobs()
    got = clustering_agreement(vectors, labels, seed=3)
    for method in ("kmeans", "agglomerative"):
        assert got[f"{method}_ari"] == pytest.approx(1.0)
        assert got[f"{method}_nmi"] == pytest.approx(1.0)
    # The knee puts the sparsest tail points outside eps: a little noise, three clusters.
    assert got["dbscan_clusters"] == 3 and got["dbscan_noise_fraction"] < 0.1
    assert got["dbscan_ari"] > 0.9
    assert clustering_agreement(vectors, labels, seed=3) == got


def test_clustering_agreement_subsamples_and_drops_unlabelled():
    vectors, labels = _blobs()
    labels = [None if i % 10 == 0 else label for i, label in enumerate(labels)]
    got = clustering_agreement(vectors, labels, methods=("kmeans",), max_items=30)
    assert got["items"] == 30 and got["classes"] == 3


def test_clustering_needs_two_classes():
    vectors, _ = _blobs()
    with pytest.raises(EvaluatorError, match="labels: clustering agreement needs at least 2 classes"):
        clustering_agreement(vectors, ["a"] * len(vectors))


class _Constant(Evaluator):
    name = "const"
    primary_metric = "score"

    def __init__(self, value, greater_is_better=True):
        self.value = value
        self.greater_is_better = greater_is_better

    def compute(self, target):
        return {"score": self.value, "n": len(target)}


def test_evaluators_prefix_metrics_and_name_their_primary_key():
    vectors, labels = _blobs()
    clustering = ClusteringEvaluator(labels, "category", methods=("kmeans",))
    neighbours = NeighbourLabelEvaluator(labels, "category", ks=(1, 5))
    report = SequentialEvaluator([neighbours, clustering])(vectors)
    assert neighbours.primary_key == "neighbours_category_precision@5" and neighbours.primary_key in report
    assert clustering.primary_key == "clustering_category_kmeans_ari" and clustering.primary_key in report
    assert prefix_metrics("x", {"a": 1.0}) == {"x_a": 1.0}


def test_evaluator_direction_decides_improvement():
    up, down = _Constant(1.0), _Constant(1.0, greater_is_better=False)
    assert up.is_improvement(0.5, None)
    assert up.is_improvement(0.6, 0.5, min_delta=0.05) and not up.is_improvement(0.54, 0.5, min_delta=0.05)
    assert down.is_improvement(0.4, 0.5) and not down.is_improvement(0.6, 0.5)


def test_evaluator_errors_name_the_field():
    with pytest.raises(EvaluatorError, match="methods: unknown or no clustering methods"):
        ClusteringEvaluator(["a", "b"], "category", methods=("spectral",))
    with pytest.raises(EvaluatorError, match="ks: k values must be positive"):
        NeighbourLabelEvaluator(["a", "b"], "category", ks=(0,))

"""Agreement of a stored map with an attribute (reports/eval.json): ARI/NMI of the stored
clusterings, silhouette of the labels in the 2-D maps."""
from __future__ import annotations

import numpy as np
import pytest

from vitrina.training.metrics.evaluator import EvaluatorError
from vitrina.training.metrics.map_agreement import MapAgreementEvaluator, map_agreement


def _islands(per_class=40, classes=3, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])[:classes]
    labels = np.repeat(np.arange(classes), per_class)
    coords = centres[labels] + rng.normal(0, spread, (len(labels), 2))
    return coords.astype(np.float32), [f"c{label}" for label in labels], labels


def test_clusters_that_are_the_classes_score_one_and_islands_a_high_silhouette():
    coords, names, labels = _islands()
    metrics = map_agreement({"umap": coords}, {"kmeans": labels}, names)
    assert metrics["kmeans_ari"] == pytest.approx(1.0) and metrics["kmeans_nmi"] == pytest.approx(1.0)
    assert metrics["umap_silhouette"] > 0.8 and metrics["kmeans_noise_fraction"] == 0.0


def test_shuffled_labels_score_near_zero():
    coords, names, labels = _islands(per_class=100)
    shuffled = list(np.random.default_rng(1).permutation(names))
    metrics = map_agreement({"pca": coords}, {"hdbscan": labels}, shuffled)
    assert abs(metrics["hdbscan_ari"]) < 0.05 and metrics["hdbscan_nmi"] < 0.05
    assert abs(metrics["pca_silhouette"]) < 0.1


def test_items_without_the_attribute_are_left_out_and_noise_is_counted():
    coords, names, labels = _islands()
    names = [None if i % 4 == 0 else n for i, n in enumerate(names)]
    noisy = labels.copy()
    noisy[:10] = -1
    metrics = map_agreement({"umap": coords}, {"hdbscan": noisy}, names)
    assert metrics["items"] == 90 and metrics["classes"] == 3
    assert metrics["hdbscan_noise_fraction"] == pytest.approx(7 / 90)
    assert metrics["hdbscan_ari"] < 1.0


def test_evaluator_names_primary_after_what_the_map_has():
    coords, names, labels = _islands()
    evaluator = MapAgreementEvaluator(names, "category")
    out = evaluator(({"umap": coords}, {"hdbscan": labels}))
    assert evaluator.primary_key == "map_category_hdbscan_ari" and out["map_category_hdbscan_ari"] == pytest.approx(1.0)
    bare = MapAgreementEvaluator(names, "category")
    assert "map_category_umap_silhouette" in bare(({"umap": coords}, {}))
    assert bare.primary_key == "map_category_umap_silhouette"


def test_one_class_or_misaligned_rows_are_refused_naming_the_field():
    coords, names, labels = _islands()
    with pytest.raises(EvaluatorError, match="labels: map agreement needs at least 2 classes"):
        map_agreement({"umap": coords}, {}, ["same"] * len(names))
    with pytest.raises(EvaluatorError, match="kmeans: has 5 rows"):
        map_agreement({"umap": coords}, {"kmeans": labels[:5]}, names)

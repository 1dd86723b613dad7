"""2-D projection methods (UMAP, PCA, t-SNE, PaCMAP): layouts, seeding, clusters kept apart, bad input naming the field."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from tests.unit.indexer._projection_helpers import DIM, KNN_FLOOR, TRUST_FLOOR, clusters, item_ids
from vitrina.indexer.maps import InvalidFieldError, align_to_parent, project, trustworthiness_of


# numba and OpenMP run single-threaded here (the `one_thread` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def knn_accuracy(coords: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(KNeighborsClassifier(5), coords, labels, cv=5).mean())


# --- layouts ------------------------------------------------------------------------------------


def test_pca_recovers_a_plane_embedded_in_32_dimensions():
    rng = np.random.default_rng(2)
    layout = rng.uniform(-1, 1, (200, 2)) * [3.0, 1.0]  # anisotropic, so the axes are well defined
    basis, _ = np.linalg.qr(rng.standard_normal((DIM, 2)))
    vectors = (layout @ basis.T + rng.standard_normal(DIM)).astype(np.float32)
    coords = project(vectors, "pca").coords
    ids = item_ids(len(vectors))
    # Procrustes may rotate, reflect and scale, nothing else: a zero residual means the same layout.
    _, residual = align_to_parent(layout.astype(np.float32), ids, coords, ids, fit_range=False)
    assert residual < 1e-5


def test_coords_fill_minus_one_to_one_with_one_scale(space, umap_run, pca_run, small_maps):
    maps = {"umap": umap_run.fitted, "pca": pca_run.fitted, **small_maps}
    for method, projection in maps.items():
        coords = projection.coords
        assert projection.method == method
        assert coords.dtype == np.float32 and coords.shape[1] == 2
        assert np.abs(coords).max() <= 1.0, method
        # One common scale: the longer axis spans [-1, 1] exactly, the other is centred inside.
        spans = coords.max(axis=0) - coords.min(axis=0)
        np.testing.assert_allclose(spans.max(), 2.0, atol=1e-6, err_msg=method)
        np.testing.assert_allclose(coords.max(axis=0) + coords.min(axis=0), 0.0, atol=1e-6, err_msg=method)
    # Aspect ratio kept: PCA's normalised axes stand in the ratio of the raw components' extents.
    raw = pca_run.fitted.reducer.model.transform(space.vectors[space.old])
    raw_spans = raw.max(axis=0) - raw.min(axis=0)
    pca_spans = np.ptp(pca_run.fitted.coords, axis=0)
    np.testing.assert_allclose(pca_spans[1] / pca_spans[0], raw_spans[1] / raw_spans[0], rtol=1e-5)


def test_params_are_resolved_and_recorded(small_maps, umap_run):
    assert dict(umap_run.fitted.params) == {
        "n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "n_epochs": None, "seed": 0
    }
    assert small_maps["tsne"].params["perplexity"] == pytest.approx(min(30.0, (160 - 1) / 3))
    assert small_maps["tsne"].reducer is None and small_maps["pacmap"].reducer is None


def test_umap_is_seeded(space):
    subset = space.vectors[:150]
    np.testing.assert_array_equal(project(subset, "umap", seed=3).coords, project(subset, "umap", seed=3).coords)


def test_pacmap_leaves_numpy_global_rng_and_faiss_threads_alone(pacmap_global_state):
    assert pacmap_global_state.draw_after == pacmap_global_state.draw_before
    assert pacmap_global_state.faiss_threads_after == pacmap_global_state.faiss_threads_before


# --- quality ------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["umap_run", "pca_run"])
def test_trustworthy_maps_keep_clusters_apart(space, run, request):
    fitted = request.getfixturevalue(run).fitted
    old = space.vectors[space.old]
    assert trustworthiness_of(old, fitted.coords) > TRUST_FLOOR
    assert knn_accuracy(fitted.coords, space.labels[space.old]) > KNN_FLOOR


@pytest.mark.parametrize("method", ["tsne", "pacmap"])
def test_tsne_and_pacmap_separate_clusters(small, small_maps, method):
    coords = small_maps[method].coords
    assert trustworthiness_of(small.vectors, coords) > TRUST_FLOOR
    assert knn_accuracy(coords, small.labels) > KNN_FLOOR


def test_trustworthiness_sample_is_seeded(space, pca_run):
    old, coords = space.vectors[space.old], pca_run.fitted.coords
    first = trustworthiness_of(old, coords, sample=100, seed=4)
    assert trustworthiness_of(old, coords, sample=100, seed=4) == first
    assert trustworthiness_of(old, coords, sample=100, seed=5) != first


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("isomap", {}, "method"),
        ("umap", {"n_neighbors": 1}, "n_neighbors"),
        ("umap", {"n_neighbors": 50}, "n_neighbors"),  # not below the 50 items
        ("umap", {"n_neighbors": True}, "n_neighbors"),
        ("umap", {"min_dist": 2.0}, "min_dist"),
        ("umap", {"metric": "manhattan"}, "metric"),
        ("umap", {"perplexity": 5}, "perplexity"),
        ("pca", {"whiten": True}, "whiten"),
        ("tsne", {"perplexity": 50}, "perplexity"),
        ("tsne", {"max_iter": 10}, "max_iter"),
        ("pacmap", {"FP_ratio": -1}, "FP_ratio"),
        ("pacmap", {}, "vectors"),  # too few items for its neighbour search
        ("pca", {"seed": -1}, "seed"),
    ],
)
def test_bad_method_or_params_name_the_field(method, params, field):
    vectors = clusters(np.random.default_rng(5), 2, 25)[0]
    with pytest.raises(InvalidFieldError) as caught:
        project(vectors, method, **params)
    assert caught.value.field == field


def test_bad_vectors_name_the_field():
    vectors = np.ones((10, 4), dtype=np.float32)
    vectors[3, 1] = np.nan
    for bad in (vectors, vectors[:2], np.ones((10, 1), np.float32), vectors.tolist()):
        with pytest.raises(InvalidFieldError) as caught:
            project(bad, "pca")
        assert caught.value.field == "vectors"
    with pytest.raises(InvalidFieldError) as caught:
        trustworthiness_of(np.ones((20, 4), np.float32), np.zeros((20, 2), np.float32), n_neighbors=10)
    assert caught.value.field == "n_neighbors"

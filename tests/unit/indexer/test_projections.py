"""2-D projections: layouts recovered, clusters kept apart, maps aligned across versions,
new items placed without refitting, Parquet round trip, errors naming the field.

UMAP JIT-compiles for tens of seconds on first use, so it runs only in the module-scoped
`umap_run` fixture; everything else that can runs on PCA.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from vitrina.indexer.maps import (
    InvalidFieldError,
    Projection,
    align_to_parent,
    load_reducer,
    place_new,
    placement_drift,
    project,
    projections_table,
    read_projections,
    save_reducer,
    trustworthiness_of,
    write_projections,
)
from vitrina.schemas import SchemaMismatchError

CLUSTERS, PER_CLUSTER, DIM = 5, 88, 32
N_OLD = 400  # the first version's items; the other 40 arrive with the re-index

# Measured with seed 0 on the data below (umap-learn 0.5.12, pacmap 0.9.1, scikit-learn 1.9.1):
# trustworthiness umap 0.951, pca 0.934 (400 items), tsne 0.972, pacmap 0.958 (160 items);
# 2-D 5-NN label accuracy 1.0 for every method; transformed new points' 10 nearest 2-D
# neighbours 100% own cluster; placement drift vs an aligned full refit umap 0.357 (the refit
# arranges the separated clusters differently, which no rigid alignment undoes), pca 0.022.
# Bounds leave some margin.
TRUST_FLOOR = 0.9
KNN_FLOOR = 0.95
PLACED_PURITY_FLOOR = 0.9
UMAP_DRIFT_BOUND = 0.5
PCA_DRIFT_BOUND = 0.05


def clusters(rng: np.random.Generator, k: int, per: int, dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """k tight clusters of L2-normalised vectors around random directions, rows shuffled."""
    centres = rng.standard_normal((k, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(k), per)
    x = centres[labels] + 0.15 * rng.standard_normal((k * per, dim)) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(k * per)
    return x[order].astype(np.float32), labels[order]


def knn_accuracy(coords: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(KNeighborsClassifier(5), coords, labels, cv=5).mean())


def item_ids(n: int) -> list[str]:
    return [f"item-{i:03d}" for i in range(n)]


@dataclass
class Space:
    vectors: np.ndarray
    labels: np.ndarray
    ids: list[str]

    @property
    def old(self) -> slice:
        return slice(0, N_OLD)

    @property
    def new(self) -> slice:
        return slice(N_OLD, None)


@dataclass
class Run:
    """One method fitted on the old items, the new items placed into it, and a full refit."""

    fitted: Projection
    placed: np.ndarray
    refit: Projection
    drift: float


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run numba and OpenMP single-threaded here, and put the counts back afterwards.

    On a small, busy machine their spinning worker threads made t-SNE on 160 points take
    20 s instead of 0.3 s; one thread also makes results independent of the core count.
    """
    import numba
    from threadpoolctl import threadpool_limits

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(numba_threads)


@pytest.fixture(scope="module")
def space() -> Space:
    vectors, labels = clusters(np.random.default_rng(0), CLUSTERS, PER_CLUSTER)
    return Space(vectors, labels, item_ids(len(vectors)))


def fit_place_refit(space: Space, method: str) -> Run:
    fitted = project(space.vectors[space.old], method)
    placed = place_new(fitted.reducer, space.vectors[space.new])
    refit = project(space.vectors, method)
    drift = placement_drift(
        placed, space.ids[space.new], refit.coords, space.ids, fitted.coords, space.ids[space.old]
    )
    return Run(fitted, placed, refit, drift)


@pytest.fixture(scope="module")
def umap_run(space) -> Run:
    return fit_place_refit(space, "umap")


@pytest.fixture(scope="module")
def pca_run(space) -> Run:
    return fit_place_refit(space, "pca")


@pytest.fixture(scope="module")
def small() -> Space:
    # t-SNE and PaCMAP are slow and have no transform: a small set is enough to show they separate.
    vectors, labels = clusters(np.random.default_rng(1), 4, 40)
    return Space(vectors, labels, item_ids(len(vectors)))


@dataclass
class GlobalState:
    """numpy's global RNG draw and FAISS's thread count, before and after a call."""

    draw_before: float
    draw_after: float
    faiss_threads_before: int
    faiss_threads_after: int


@pytest.fixture(scope="module")
def small_maps(small_run) -> dict[str, Projection]:
    return small_run[0]


@pytest.fixture(scope="module")
def pacmap_global_state(small_run) -> GlobalState:
    return small_run[1]


@pytest.fixture(scope="module")
def small_run(small) -> tuple[dict[str, Projection], GlobalState]:
    # PaCMAP runs once (a second run costs seconds more), so it also records what it did to
    # process-wide state: seeded PaCMAP reseeds numpy's global RNG and pins FAISS to 1 thread.
    import faiss

    threads = faiss.omp_get_max_threads()
    np.random.seed(123)
    draw_before = float(np.random.rand())
    np.random.seed(123)
    pacmap_map = project(small.vectors, "pacmap")
    state = GlobalState(draw_before, float(np.random.rand()), threads, faiss.omp_get_max_threads())
    return {"tsne": project(small.vectors, "tsne", max_iter=500), "pacmap": pacmap_map}, state


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


# --- new items without refitting ----------------------------------------------------------------


def test_placed_points_land_among_their_cluster(space, umap_run):
    old_coords = umap_run.fitted.coords
    distances = np.linalg.norm(umap_run.placed[:, None, :] - old_coords[None, :, :], axis=2)
    nearest = np.argsort(distances, axis=1)[:, :10]
    purity = (space.labels[space.old][nearest] == space.labels[space.new][:, None]).mean()
    assert purity > PLACED_PURITY_FLOOR


def test_drift_from_a_full_refit_is_bounded(umap_run, pca_run):
    assert 0 < umap_run.drift < UMAP_DRIFT_BOUND
    assert 0 < pca_run.drift < PCA_DRIFT_BOUND


def test_pca_places_its_own_items_exactly_where_the_map_has_them(space, pca_run):
    again = place_new(pca_run.fitted.reducer, space.vectors[space.old])
    np.testing.assert_allclose(again, pca_run.fitted.coords, atol=1e-6)


@pytest.mark.parametrize("run", ["umap_run", "pca_run"])
def test_saved_reducer_places_like_the_fitted_one(space, run, request, tmp_path):
    run = request.getfixturevalue(run)
    path = tmp_path / "reducer.joblib"
    save_reducer(run.fitted, path)
    loaded = load_reducer(path)
    assert loaded.method == run.fitted.method
    np.testing.assert_allclose(place_new(loaded, space.vectors[space.new]), run.placed, atol=1e-5)


def test_reducer_errors_name_the_field(space, pca_run, small_maps, tmp_path):
    with pytest.raises(InvalidFieldError) as caught:
        save_reducer(small_maps["tsne"], tmp_path / "r.joblib")
    assert caught.value.field == "projection"
    with pytest.raises(InvalidFieldError) as caught:
        place_new(pca_run.fitted.reducer, space.vectors[:, :8])
    assert caught.value.field == "vectors"

    import joblib

    joblib.dump({"format": 99}, tmp_path / "old.joblib")
    with pytest.raises(InvalidFieldError) as caught:
        load_reducer(tmp_path / "old.joblib")
    assert caught.value.field == "format" and "old.joblib" in str(caught.value)


# --- stable maps across versions ----------------------------------------------------------------


def similarity(coords: np.ndarray, angle: float, scale: float, shift: tuple[float, float], reflect: bool) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    if reflect:
        rotation = np.diag([1.0, -1.0]) @ rotation
    return (coords.astype(np.float64) @ rotation * scale + np.array(shift)).astype(np.float32)


@pytest.mark.parametrize("reflect", [False, True])
def test_alignment_undoes_rotation_scale_shift_and_reflection(reflect):
    rng = np.random.default_rng(3)
    parent = rng.uniform(-1, 1, (120, 2)).astype(np.float32)
    moved = similarity(parent, angle=2.1, scale=3.7, shift=(5.0, -2.0), reflect=reflect)
    parent_ids = item_ids(120)
    # The new version lost 20 items, gained none in the parent, and lists rows in another order.
    order = rng.permutation(120)[:100]
    aligned, displacement = align_to_parent(moved[order], [parent_ids[i] for i in order], parent, parent_ids)
    assert np.abs(aligned - parent[order]).max() < 1e-5
    assert displacement < 1e-5


def test_alignment_moves_new_items_with_the_shared_ones():
    rng = np.random.default_rng(4)
    everything = rng.uniform(-0.8, 0.8, (60, 2)).astype(np.float32)
    ids = item_ids(60)
    moved = similarity(everything, angle=-0.7, scale=0.4, shift=(0.1, 0.2), reflect=True)
    # Items 50.. are new: not in the parent, but placed by the same transform.
    aligned, _ = align_to_parent(moved, ids, everything[:50], ids[:50])
    np.testing.assert_allclose(aligned, everything, atol=1e-5)


def test_alignment_keeps_the_fixed_range():
    ids = item_ids(4)
    parent = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float32)
    # The same square plus a new item far outside it.
    coords = np.vstack([parent, [[3.0, 0.0]]]).astype(np.float32)
    aligned, displacement = align_to_parent(coords, [*ids, "new"], parent, ids)
    assert np.abs(aligned).max() == pytest.approx(1.0)
    assert displacement > 0  # the shared items shrank to make room
    unbounded, still = align_to_parent(coords, [*ids, "new"], parent, ids, fit_range=False)
    assert np.abs(unbounded).max() == pytest.approx(3.0) and still < 1e-6


def test_realigning_a_refit_reports_its_displacement(space, umap_run):
    aligned, displacement = align_to_parent(
        umap_run.refit.coords, space.ids, umap_run.fitted.coords, space.ids[space.old]
    )
    assert aligned.shape == umap_run.refit.coords.shape and np.abs(aligned).max() <= 1.0
    assert 0 < displacement < UMAP_DRIFT_BOUND


def test_alignment_errors_name_the_field():
    coords = np.zeros((5, 2), dtype=np.float32)
    coords[:, 0] = np.arange(5)
    with pytest.raises(InvalidFieldError) as caught:
        align_to_parent(coords, item_ids(5), coords[:2], item_ids(2))
    assert caught.value.field == "parent_ids"
    with pytest.raises(InvalidFieldError) as caught:
        align_to_parent(coords, ["a", "a", "b", "c", "d"], coords, item_ids(5))
    assert caught.value.field == "ids"
    with pytest.raises(InvalidFieldError) as caught:
        align_to_parent(coords[:, :1], item_ids(5), coords, item_ids(5))
    assert caught.value.field == "coords"


# --- projections.parquet ------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path, space, umap_run, pca_run):
    path = tmp_path / "projections.parquet"
    aligned, _ = align_to_parent(umap_run.refit.coords, space.ids, umap_run.fitted.coords, space.ids[space.old])
    write_projections(projections_table(space.ids, {"umap": aligned, "pca": pca_run.refit}), path)
    ids, maps = read_projections(path)
    assert ids == space.ids and list(maps) == ["umap", "pca"]
    np.testing.assert_array_equal(maps["umap"], aligned)
    np.testing.assert_array_equal(maps["pca"], pca_run.refit.coords)
    _, only_pca = read_projections(path, methods=["pca"])
    assert list(only_pca) == ["pca"]


def test_parquet_schema_errors_name_file_and_field(tmp_path):
    path = tmp_path / "projections.parquet"
    ids = pa.array(["a", "b"], pa.string())
    xy = pa.array([0.1, 0.2], pa.float32())

    pq.write_table(pa.table({"id": ids, "pca_x": xy}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y" and str(path) in str(caught.value)

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": pa.array([0.1, 0.2], pa.float64())}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y"

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": pa.array([0.1, None], pa.float32())}), path)
    with pytest.raises(InvalidFieldError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y" and caught.value.path == str(path)

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": xy}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path, methods=["umap"])
    assert caught.value.field == "umap_x"


def test_projections_table_errors_name_the_field():
    coords = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(3), {"pca": coords, "umap": coords[:2]})
    assert caught.value.field == "umap"
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(3), {"isomap": coords})
    assert caught.value.field == "methods"
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(2), {"pca": coords})
    assert caught.value.field == "ids"


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

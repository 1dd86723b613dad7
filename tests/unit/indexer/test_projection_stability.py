"""Maps across versions: new items placed without refitting, saved reducers, alignment to the parent map."""
from __future__ import annotations

import numpy as np
import pytest

from tests.unit.indexer._projection_helpers import (
    PCA_DRIFT_BOUND,
    PLACED_PURITY_FLOOR,
    UMAP_DRIFT_BOUND,
    item_ids,
)
from vitrina.indexer.maps import (
    InvalidFieldError,
    align_to_parent,
    load_reducer,
    place_new,
    save_reducer,
)


# numba and OpenMP run single-threaded here (the `one_thread` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


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

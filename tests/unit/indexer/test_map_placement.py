"""A re-index placing new items into its parent's map (build --map-update place) and the drift
of placement from a refit that every re-index reports."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import build_tiny_bundle, catalogue_without
from vitrina.indexer.bundle.reader import Bundle
from tests.fakes import FakeFactory
from vitrina.indexer.maps import InvalidFieldError, ParentMap, load_reducer, place_into_parent, read_projections

SPACES = ["image", "text"]
ADDED = {"animals-03", "animals-04", "plants-10", "plants-11", "vehicles-00", "vehicles-19"}
# Measured (seed 0, tiny bundle, PCA): the 6 added items placed with the parent's reducer land
# 0.031 (image) and 0.139 (text) from where the aligned refit puts them; the map is 2 wide.
DRIFT_BOUND = 0.25


@pytest.fixture(scope="module")
def parent_and_children(tmp_path_factory, tiny_catalogue):
    """A version without ADDED, then the full catalogue re-indexed on top of it both ways."""
    root = tmp_path_factory.mktemp("placement")
    smaller = catalogue_without(root / "cat", tiny_catalogue, ADDED)
    out = {}
    for update in ("place", "refit"):
        parent = build_tiny_bundle(root / update, smaller)
        out[update] = (parent, build_tiny_bundle(root / update, tiny_catalogue, map_update=update))
    return out


@pytest.mark.parametrize("space", SPACES)
def test_placing_keeps_every_parent_item_where_it_was(parent_and_children, space):
    parent, child = parent_and_children["place"]
    old_ids, old = read_projections(parent.paths.projections(space))
    new_ids, new = read_projections(child.paths.projections(space))
    old_row = {i: r for r, i in enumerate(old_ids)}
    kept = [r for r, i in enumerate(new_ids) if i in old_row]
    assert len(kept) == len(new_ids) - len(ADDED)
    np.testing.assert_array_equal(new["pca"][kept], old["pca"][[old_row[new_ids[r]] for r in kept]])
    entry = child.report["spaces"][space]["maps"]["projections"]["pca"]
    assert entry["placement"] == {"parent": parent.version, "placed_items": len(ADDED), "mean_drift": None,
                                  "refitted": False}
    assert entry["params"]["placed_into"] == parent.version and entry["alignment"] is None


@pytest.mark.parametrize("space", SPACES)
def test_added_items_land_where_the_parent_reducer_puts_them_near_their_neighbours(parent_and_children, space):
    parent, child = parent_and_children["place"]
    vectors = Bundle.open(child.paths.root.parents[2], "tiny", encoder_factory=FakeFactory()).spaces[space]
    new_ids, new = read_projections(child.paths.projections(space))
    rows = [r for r, i in enumerate(new_ids) if i in ADDED]
    placed = load_reducer(parent.paths.reducer(space, "pca")).transform(vectors.vectors[rows])
    np.testing.assert_allclose(new["pca"][rows], placed, atol=1e-5)
    # Each added item sits closer to its nearest neighbour in the space than to a random item.
    for r in rows:
        sims = vectors.vectors @ vectors.vectors[r]
        sims[r] = -np.inf
        nearest = int(np.argmax(sims))
        gaps = np.linalg.norm(new["pca"] - new["pca"][r], axis=1)
        assert gaps[nearest] <= np.median(np.delete(gaps, r))
    # The child carries the parent's reducer on: a third version can place into it again.
    np.testing.assert_allclose(load_reducer(child.paths.reducer(space, "pca")).transform(vectors.vectors),
                               load_reducer(parent.paths.reducer(space, "pca")).transform(vectors.vectors))


@pytest.mark.parametrize("space", SPACES)
def test_a_refit_reports_how_far_placement_would_have_drifted(parent_and_children, space):
    parent, child = parent_and_children["refit"]
    placement = child.report["spaces"][space]["maps"]["projections"]["pca"]["placement"]
    assert placement["parent"] == parent.version and placement["placed_items"] == len(ADDED)
    assert placement["refitted"] is True and 0 < placement["mean_drift"] <= DRIFT_BOUND


def test_placing_refuses_when_most_vectors_changed(parent_and_children):
    parent, _ = parent_and_children["place"]
    pmap = ParentMap.read(parent.version, parent.paths, "image")
    ids = list(pmap.ids)
    shifted = np.roll(np.eye(64, dtype=np.float32), 1, axis=1)[np.arange(len(ids)) % 64]
    with pytest.raises(InvalidFieldError, match="refit instead"):
        place_into_parent(pmap, "pca", shifted, ids)
    with pytest.raises(InvalidFieldError, match="have dim 8 but version .* takes 64"):
        place_into_parent(pmap, "pca", np.ones((len(ids), 8), np.float32) / 8 ** 0.5, ids)


def test_without_a_parent_place_refits_and_says_why(tmp_path, tiny_catalogue):
    result = build_tiny_bundle(tmp_path, tiny_catalogue, map_update="place")
    entry = result.report["spaces"]["image"]["maps"]["projections"]["pca"]
    assert "no parent version" in entry["placement"]["skipped"]


def test_map_update_is_validated(tmp_path, tiny_catalogue):
    with pytest.raises(ValueError, match="map_update: unknown mode 'merge'"):
        build_tiny_bundle(tmp_path, tiny_catalogue, map_update="merge")


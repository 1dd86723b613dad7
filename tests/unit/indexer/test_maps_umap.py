"""The build's default maps (UMAP and PCA, HDBSCAN and k-means) on the tiny bundle.

UMAP JIT-compiles for ~30 s on first use, so this module builds one bundle with the defaults
and shares it; every other test maps with PCA and k-means only (tests/conftest.py).
"""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from tests.conftest import build_tiny_bundle
from tests.fakes import FakeFactory
from vitrina.indexer.build import BuildOptions
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.maps import load_reducer, read_space_projections
from vitrina.search_api import BundleHolder, SearchService

# Measured on the tiny bundle (seed 0): UMAP trustworthiness text 0.905; image 0.86-0.94.
# The image space holds only 18 distinct vectors (colours repeat), its kNN graph falls into 7
# connected components, and UMAP's layout of disconnected components is not reproducible even
# with a seed (umap-learn 0.5.12): two fits in one process differ. The text space's graph is
# connected and its map reproducible. HDBSCAN on the image space: 7 clusters, no noise, ARI 0.548
# against `category`; on the text space (groups of 4 identical texts, below min_cluster_size 5)
# 2 clusters and 75% noise. Floors and bounds leave some margin.
UMAP_TRUST_FLOOR = {"image": 0.75, "text": 0.85}
IMAGE_HDBSCAN_ARI_FLOOR = 0.45
# The same items mapped again with the same seed land where they were (measured 1e-16).
SAME_ITEMS_DISPLACEMENT_BOUND = 0.01


@pytest.fixture(scope="module")
def default_maps(tmp_path_factory, tiny_catalogue):
    root = tmp_path_factory.mktemp("umap")
    defaults = BuildOptions()
    first = build_tiny_bundle(root, tiny_catalogue, projections=defaults.projections, clusterings=defaults.clusterings)
    # A rebuild of the same items is aligned to the first. It asks for one more clustering: with the
    # same vectors, words and methods the maps would be the parent's files (test_maps_unchanged.py).
    second = build_tiny_bundle(root, tiny_catalogue, projections=defaults.projections,
                               clusterings=(*defaults.clusterings, "agglomerative"))
    return first, second, Bundle.open(root, "tiny", encoder_factory=FakeFactory())


def test_defaults_are_umap_and_pca_hdbscan_and_kmeans():
    options = BuildOptions()
    assert (options.projections, options.clusterings) == (("umap", "pca"), ("hdbscan", "kmeans"))


@pytest.mark.parametrize("space_name", ["image", "text"])
def test_default_maps_are_written_and_reported(default_maps, space_name):
    first, _, _ = default_maps
    paths = first.paths
    assert pq.read_schema(paths.projections(space_name)).names == [
        "id", "umap_x", "umap_y", "pca_x", "pca_y", "cluster_hdbscan", "member_rank_hdbscan", "cluster_kmeans",
        "member_rank_kmeans"]
    for method in ("umap", "pca"):
        assert paths.reducer(space_name, method).is_file()
    maps = first.report["spaces"][space_name]["maps"]
    assert maps["projections"]["umap"]["trustworthiness"] >= UMAP_TRUST_FLOOR[space_name]
    assert maps["projections"]["umap"]["params"]["n_neighbors"] == 15
    hdbscan = maps["clusterings"]["hdbscan"]
    assert hdbscan["clusters"] >= 2 and 0 <= hdbscan["noise_fraction"] < 1
    labels = read_space_projections(paths.projections(space_name)).labels["hdbscan"]
    assert hdbscan["noise_fraction"] == pytest.approx(np.mean(labels == -1))


def test_hdbscan_clusters_of_the_image_space_follow_the_category(default_maps):
    first, _, _ = default_maps
    ids, coords, labels, _ = read_space_projections(first.paths.projections("image"))
    assert np.abs(coords["umap"]).max() <= 1.0
    truth = [item_id.split("-")[0] for item_id in ids]  # ids are <category>-<n>
    assert adjusted_rand_score(truth, labels["hdbscan"]) >= IMAGE_HDBSCAN_ARI_FLOOR


def test_a_rebuild_of_the_same_items_keeps_the_umap_map_in_place(default_maps):
    first, second, bundle = default_maps
    for name in ("image", "text"):
        alignment = second.report["spaces"][name]["maps"]["projections"]["umap"]["alignment"]
        assert alignment["parent"] == first.version and alignment["shared_items"] == 60
    # Only the text space's UMAP is reproducible (see above); its map stays where it was.
    text = second.report["spaces"]["text"]["maps"]["projections"]["umap"]["alignment"]
    assert text["mean_displacement"] <= SAME_ITEMS_DISPLACEMENT_BOUND
    # Placing the map's own items with the stored (aligned) reducer puts them among their category.
    space = bundle.spaces["image"]
    placed = load_reducer(second.paths.reducer("image", "umap")).transform(space.vectors)
    stored = space.projections().coords["umap"]
    nearest = np.argmin(np.linalg.norm(placed[:, None, :] - stored[None, :, :], axis=2), axis=1)
    same = np.mean([space.ids[i].split("-")[0] == space.ids[j].split("-")[0] for i, j in enumerate(nearest)])
    assert same >= 0.9


def test_the_service_defaults_to_umap_and_the_first_clustering(default_maps):
    _, second, bundle = default_maps
    holder = BundleHolder()
    holder.swap(bundle)
    view = SearchService(holder).projection("text")
    assert (view.method, view.methods, view.clustering, view.clusterings) == (
        "umap", ["umap", "pca"], "hdbscan", ["hdbscan", "kmeans", "agglomerative"])
    assert view.bundle_version == second.version

"""The build's maps stage: projections, clusters and reducers per space, alignment to the parent, options, reports."""
from __future__ import annotations

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score, homogeneity_score
from typer.testing import CliRunner

from tests.conftest import build_tiny_bundle, catalogue_without
from tests.fakes import FakeFactory
from tests.unit.indexer._space_maps_helpers import SPACES, open_bundle
from vitrina.schemas.bundle_layout import VersionPaths
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.maps import (
    InvalidFieldError,
    build_space_maps,
    load_reducer,
    maps_table,
    read_clusters,
    read_projections,
)


# Measured on the tiny bundle (seed 0): PCA trustworthiness image 0.881, text 0.906 (k = 10).
# k-means picks k = 7 on the image space (colours split animals and plants) with ARI 0.548
# against `category`, and k = 15 on the text space (one cluster per word, ARI 0.20); in both
# every cluster holds one category only. Floors leave some margin.
PCA_TRUST_FLOOR = {"image": 0.8, "text": 0.85}
IMAGE_KMEANS_ARI_FLOOR = 0.45
# A rebuild without 6 of the 60 items, aligned to its parent, moved the 54 shared ones by
# 0.039 (image) and 0.077 (text) on average; the map is 2 wide.
ALIGNED_DISPLACEMENT_BOUND = 0.15
_WORD = re.compile(r"[^\W\d_]{3,}")


def categories(bundle: Bundle, space) -> list[str]:
    return [bundle.items.metadata[bundle.items.row_of[i]]["category"] for i in space.ids]


# -- what the build writes ----------------------------------------------------------------------


@pytest.mark.parametrize("space_name", SPACES)
def test_every_space_has_a_map_in_range_with_labels(tiny_bundle, space_name):
    space = tiny_bundle.spaces[space_name]
    path = tiny_bundle.paths.projections(space_name)
    assert pq.read_schema(path).names == ["id", "pca_x", "pca_y", "cluster_kmeans", "member_rank_kmeans"]
    ids, coords, labels, ranks = space.projections()
    assert ids == space.ids and list(coords) == ["pca"] and list(labels) == list(ranks) == ["kmeans"]
    pca = coords["pca"]
    assert pca.dtype == np.float32 and pca.shape == (60, 2)
    assert np.abs(pca).max() <= 1.0 and np.isclose(np.abs(pca).max(axis=0).max(), 1.0)
    assert labels["kmeans"].dtype == np.int32 and labels["kmeans"].shape == (60,)
    # The labels in projections.parquet are the clusters of clusters.parquet.
    sizes = {c.cluster: c.size for c in space.clusters() if c.method == "kmeans"}
    assert sizes == dict(zip(*np.unique(labels["kmeans"], return_counts=True)))


def test_build_report_and_manifest_describe_the_maps(tiny_bundle):
    report = json.loads(tiny_bundle.paths.build_report.read_text())
    for name in SPACES:
        maps = report["spaces"][name]["maps"]
        pca = maps["projections"]["pca"]
        assert pca["trustworthiness"] >= PCA_TRUST_FLOOR[name] and pca["trustworthiness_k"] == 10
        assert pca["alignment"] is None  # the first version has no parent
        assert pca["params"] == {"seed": 0} and pca["seconds"] >= 0
        kmeans = maps["clusterings"]["kmeans"]
        assert kmeans["clusters"] == kmeans["params"]["k"] >= 2 and kmeans["noise_fraction"] == 0.0
        assert maps["skipped"] == {} and maps["seconds"] >= 0
        assert f"maps:{name}" in report["timings_s"]
    build = tiny_bundle.manifest.build
    assert build["maps"] == {name: report["spaces"][name]["maps"] for name in SPACES}
    assert (build["options"]["projections"], build["options"]["clusterings"]) == (["pca"], ["kmeans"])


@pytest.mark.parametrize("space_name", SPACES)
def test_kmeans_clusters_follow_the_category(tiny_bundle, space_name):
    space = tiny_bundle.spaces[space_name]
    labels = space.projections().labels["kmeans"]
    truth = categories(tiny_bundle, space)
    # Clusters may split a category (by colour, by word) but never mix two.
    assert homogeneity_score(truth, labels) == pytest.approx(1.0)
    if space_name == "image":
        assert adjusted_rand_score(truth, labels) >= IMAGE_KMEANS_ARI_FLOOR


@pytest.mark.parametrize("space_name", SPACES)
def test_cluster_names_come_from_member_texts(tiny_bundle, space_name):
    space = tiny_bundle.spaces[space_name]
    labels = space.projections().labels["kmeans"]
    clusters = [c for c in space.clusters() if c.method == "kmeans"]
    assert [c.cluster for c in clusters] == list(range(len(clusters)))
    for cluster in clusters:
        members = [i for i, label in zip(space.ids, labels) if label == cluster.cluster]
        words = {w for i in members for w in _WORD.findall(tiny_bundle.items.get(i).text.lower())}
        assert cluster.keywords and set(cluster.keywords) <= words
        assert cluster.name == ", ".join(cluster.keywords)
        assert set(cluster.representative_ids) <= set(members) and len(cluster.representative_ids) == min(5, len(members))
    # A cluster of one category is named by that category's words, which no other category uses.
    named = 0
    for cluster in clusters:
        cats = {categories(tiny_bundle, space)[row] for row in np.flatnonzero(labels == cluster.cluster)}
        if len(cats) == 1:
            from tests.conftest import WORDS

            (cat,) = cats
            assert set(cluster.keywords) & {*WORDS[cat], cat}
            named += 1
    assert named >= 2


@pytest.mark.parametrize("space_name", SPACES)
def test_stored_reducer_places_items_where_the_map_has_them(tiny_bundle, space_name):
    space = tiny_bundle.spaces[space_name]
    reducer = load_reducer(tiny_bundle.paths.reducer(space_name, "pca"))
    np.testing.assert_allclose(reducer.transform(space.vectors), space.projections().coords["pca"], atol=1e-5)


def test_a_rebuild_with_other_items_is_aligned_to_its_parent(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path / "b", tiny_catalogue)
    dropped = {"animals-03", "animals-04", "plants-10", "plants-11", "vehicles-00", "vehicles-19"}
    changed = catalogue_without(tmp_path / "cat", tiny_catalogue, dropped)
    second = build_tiny_bundle(tmp_path / "b", changed)
    fresh = build_tiny_bundle(tmp_path / "fresh", changed)  # the same items with no parent: not aligned

    for name in SPACES:
        alignment = second.report["spaces"][name]["maps"]["projections"]["pca"]["alignment"]
        assert alignment["parent"] == first.version and alignment["shared_items"] == 54
        assert 0 < alignment["mean_displacement"] <= ALIGNED_DISPLACEMENT_BOUND
        assert fresh.report["spaces"][name]["maps"]["projections"]["pca"]["alignment"] is None

        old_ids, old = read_projections(first.paths.projections(name))
        new_ids, new = read_projections(second.paths.projections(name))
        _, unaligned = read_projections(fresh.paths.projections(name))
        old_row = {i: r for r, i in enumerate(old_ids)}
        rows = [old_row[i] for i in new_ids]
        moved = np.linalg.norm(new["pca"] - old["pca"][rows], axis=1).mean()
        assert moved == pytest.approx(alignment["mean_displacement"], abs=1e-5)
        assert moved < np.linalg.norm(unaligned["pca"] - old["pca"][rows], axis=1).mean()
        assert np.abs(new["pca"]).max() <= 1.0
        # The stored reducer was moved with the map: it places items where the aligned map has them.
        space = open_bundle(tmp_path / "b").spaces[name]
        placed = load_reducer(second.paths.reducer(name, "pca")).transform(space.vectors)
        np.testing.assert_allclose(placed, new["pca"], atol=1e-4)


def test_map_options_are_part_of_the_build_key(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    again = build_tiny_bundle(tmp_path, tiny_catalogue, skip_unchanged=True, clusterings=("kmeans", "agglomerative"))
    assert not again.reused and again.version != first.version
    assert {c.method for c in read_clusters(again.paths.clusters("image"))} == {"kmeans", "agglomerative"}
    assert list(open_bundle(tmp_path).spaces["image"].projections().labels) == ["kmeans", "agglomerative"]


def test_no_maps_when_asked_for_none(tmp_path, tiny_catalogue):
    result = build_tiny_bundle(tmp_path, tiny_catalogue, projections=(), clusterings=())
    assert not any(result.paths.projections(n).exists() or result.paths.clusters(n).exists() for n in SPACES)
    assert "maps" not in result.report["spaces"]["image"] and result.manifest.build["maps"] == {}


@pytest.mark.parametrize(
    "options, match",
    [
        ({"projections": ("umap", "mds")}, "projections: unknown method 'mds'; choose from umap, pca, tsne, pacmap"),
        ({"projections": ("pca", "pca")}, "projections: each method may appear once"),
        ({"clusterings": ("optics",)}, "clusterings: unknown method 'optics'; choose from hdbscan, dbscan, kmeans"),
        ({"projections": (), "clusterings": ("kmeans",)}, "clusterings: need at least one projection"),
    ],
)
def test_map_options_are_validated_naming_the_field(tmp_path, tiny_catalogue, options, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        build_tiny_bundle(tmp_path, tiny_catalogue, **options)
    assert not (tmp_path / "tiny").exists()  # refused before anything was written


def test_cli_takes_repeatable_projection_and_clustering(tmp_path, tiny_catalogue, monkeypatch):
    import vitrina.training.encoders
    from vitrina.indexer.cli import app

    monkeypatch.setattr(vitrina.training.encoders, "create_encoder", FakeFactory())
    args = ["build", "--catalogue", f"table:{tiny_catalogue}", "--out", str(tmp_path), "--collection", "tiny",
            "--space", "text=fake:text", "--title-column", "title", "--text-columns", "title,description",
            "--metadata-columns", "category", "--workers", "0", "--no-progress", "--neighbours-k", "5"]
    # (t-SNE would do as a second projection, but takes tens of seconds on a busy 2-core machine.)
    result = CliRunner().invoke(app, [*args, "--projection", "pca", "--clustering", "kmeans",
                                      "--clustering", "agglomerative"])
    assert result.exit_code == 0, result.output
    maps = json.loads(result.output)["report"]["spaces"]["text"]["maps"]
    assert list(maps["projections"]) == ["pca"] and list(maps["clusterings"]) == ["kmeans", "agglomerative"]
    assert list(open_bundle(tmp_path).spaces["text"].projections().labels) == ["kmeans", "agglomerative"]
    for extra, option, problem in [
        (["--projection", "mds"], "--projection", "unknown method 'mds'"),
        (["--clustering", "optics"], "--clustering", "unknown method 'optics'"),
        (["--projection", "pca", "--projection", "pca"], "--projection", "each method may appear once"),
    ]:
        refused = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "200"})
        assert refused.exit_code == 2 and option in refused.output and problem in refused.output, refused.output


def test_spaces_too_small_for_a_method_skip_it_with_the_reason(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((4, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = ["a", "b", "c", "d"]
    paths = VersionPaths(tmp_path)
    report = build_space_maps(vectors, ids, ["red fox", "red hen", "blue car", "blue bus"], paths, "text",
                              ("pca", "pacmap"), ("kmeans", "hdbscan"))
    assert list(report["projections"]) == ["pca"] and list(report["clusterings"]) == ["kmeans"]
    assert report["skipped"] == {"pacmap": "pacmap needs at least 62 items, the space has 4",
                                 "hdbscan": "hdbscan needs at least 5 items, the space has 4"}
    assert report["projections"]["pca"]["trustworthiness_k"] == 1
    assert pq.read_schema(paths.projections("text")).names == ["id", "pca_x", "pca_y", "cluster_kmeans", "member_rank_kmeans"]
    two = build_space_maps(vectors[:2], ids[:2], [None, None], VersionPaths(tmp_path / "two"), "text", ("pca",), ("kmeans",))
    assert two["projections"] == {} and set(two["skipped"]) == {"pca", "kmeans"}
    assert not (tmp_path / "two").exists()


def test_maps_table_checks_the_labels():
    coords = {"pca": np.zeros((2, 2), dtype=np.float32)}
    with pytest.raises(InvalidFieldError, match="one label per id") as err:
        maps_table(["a", "b"], coords, {"kmeans": np.zeros(3)})
    assert err.value.field == "kmeans"
    with pytest.raises(InvalidFieldError) as err:
        maps_table(["a", "b"], coords, {"spectral": np.zeros(2)})
    assert err.value.field == "labels"
    with pytest.raises(InvalidFieldError, match="holds 'hdbscan', which has no labels") as err:
        maps_table(["a", "b"], coords, {"kmeans": np.zeros(2)}, {"hdbscan": np.arange(2)})
    assert err.value.field == "member_ranks"
    with pytest.raises(InvalidFieldError, match="0..size-1") as err:
        maps_table(["a", "b"], coords, {"kmeans": np.zeros(2)}, {"kmeans": np.zeros(2)})
    assert err.value.field == "member_rank_kmeans"
    table = maps_table(["a", "b"], coords, {"kmeans": np.zeros(2)}, {"kmeans": np.array([1, 0])})
    assert table.column("member_rank_kmeans").to_pylist() == [1, 0]

"""Maps of the collection: the build's maps stage (projections, clusters, reducers, alignment to
the parent version), the bundle reading them and the service answering from them.

The tiny bundle is mapped with PCA and k-means (tests/conftest.py); UMAP and HDBSCAN, slow to
start, have their own module (test_maps_umap.py).
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score, homogeneity_score
from typer.testing import CliRunner

from tests.conftest import build_tiny_bundle, catalogue_without, loaded_once_by_racing_threads
from tests.fakes import FakeFactory
from vitrina.schemas.bundle_layout import CollectionPaths, VersionPaths
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.maps import (
    InvalidFieldError,
    build_space_maps,
    load_reducer,
    maps_table,
    read_clusters,
    read_projections,
)
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.errors import InvalidArgument, NotFound

SPACES = ["image", "text"]
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


def open_bundle(root) -> Bundle:
    return Bundle.open(root, "tiny", encoder_factory=FakeFactory())


def service_over(bundle: Bundle, **settings) -> SearchService:
    holder = BundleHolder()
    holder.swap(bundle)
    return SearchService(holder, Settings(**settings))


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


# -- what the bundle reads -----------------------------------------------------------------------


@pytest.fixture
def bundle_copy(tmp_path, tiny_bundle_root):
    root = tmp_path / "bundles"
    shutil.copytree(tiny_bundle_root, root)
    coll = CollectionPaths.of(root, "tiny")
    return root, coll.version(coll.current())


def test_versions_built_before_maps_open_with_empty_maps(bundle_copy):
    root, paths = bundle_copy
    for name in SPACES:
        paths.projections(name).unlink()
        paths.clusters(name).unlink()
    bundle = open_bundle(root)
    assert bundle.spaces["image"].projections() == ([], {}, {}, {}) and bundle.spaces["image"].clusters() == []
    service = service_over(bundle)
    with pytest.raises(NotFound, match="map of space 'image' not found"):
        service.projection("image")
    with pytest.raises(InvalidArgument, match=r"space 'image' has: \(none") as err:
        service.projection("image", "pca")
    assert err.value.field == "method"
    assert service.clusters("image").clusters == []
    with pytest.raises(NotFound):
        service.cluster_items("image", 0)


def test_a_map_in_another_row_order_is_refused(bundle_copy):
    root, paths = bundle_copy
    table = pq.read_table(paths.projections("text"))
    pq.write_table(table.take(list(range(table.num_rows))[::-1]), paths.projections("text"))
    space = open_bundle(root).spaces["text"]
    with pytest.raises(InvalidFieldError, match="embeddings.parquet") as err:
        space.projections()
    assert err.value.field == "id"


def test_maps_load_once_however_many_threads_ask(tiny_bundle_root, monkeypatch):
    import vitrina.indexer.maps as maps

    space = open_bundle(tiny_bundle_root).spaces["image"]
    loaded_once_by_racing_threads(monkeypatch, maps, "read_space_projections", space.projections)


# -- what the service answers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tiny_bundle) -> SearchService:
    return service_over(tiny_bundle, max_cluster_items=100)


def test_projection_view_has_every_item_with_its_cluster(service, tiny_bundle):
    view = service.projection("image")
    space = tiny_bundle.spaces["image"]
    ids, coords, labels, _ = space.projections()
    assert (view.bundle_version, view.space, view.method, view.methods) == (tiny_bundle.version, "image", "pca", ["pca"])
    assert (view.clustering, view.clusterings) == ("kmeans", ["kmeans"])
    assert [p.id for p in view.points] == ids
    np.testing.assert_array_equal([[p.x, p.y] for p in view.points], coords["pca"])
    assert [p.cluster for p in view.points] == labels["kmeans"].tolist()
    assert service.projection("image", "pca", "kmeans") == view


def test_projection_columns_are_the_view_in_arrow(service):
    import pyarrow as pa

    columns = service.projection_columns("text")
    batches = list(columns.record_batches(rows=25))
    assert [b.num_rows for b in batches] == [25, 25, 10]
    table = pa.Table.from_batches(batches)
    assert table.schema.names == ["id", "x", "y", "cluster"]
    assert table.schema.metadata[b"method"] == b"pca" and table.schema.metadata[b"clustering"] == b"kmeans"
    points = columns.view().points
    assert table.to_pylist() == [p.model_dump() for p in points]


@pytest.mark.parametrize(
    "call, error, field, match",
    [
        (lambda s: s.projection("nope"), NotFound, None, "space 'nope' not found"),
        (lambda s: s.projection("image", "umap"), InvalidArgument, "method",
         "unknown projection method 'umap'; space 'image' has: pca"),
        (lambda s: s.projection("image", clustering="hdbscan"), InvalidArgument, "clustering",
         "unknown clustering 'hdbscan'; space 'image' has: kmeans"),
        (lambda s: s.projection_columns("image", "tsne"), InvalidArgument, "method", "unknown projection method"),
        (lambda s: s.clusters("nope"), NotFound, None, "space 'nope' not found"),
        (lambda s: s.clusters("text", "dbscan"), InvalidArgument, "method", "unknown clustering 'dbscan'"),
        (lambda s: s.cluster_items("nope", 0), NotFound, None, "space 'nope' not found"),
        (lambda s: s.cluster_items("image", 0, "dbscan"), InvalidArgument, "method", "unknown clustering 'dbscan'"),
        (lambda s: s.cluster_items("image", 99), NotFound, None, "kmeans cluster '99' not found"),
        (lambda s: s.cluster_items("image", -1), NotFound, None, "kmeans cluster '-1' not found"),  # k-means: no noise
        (lambda s: s.cluster_items("image", 0, limit=0), InvalidArgument, "limit", "between 1 and 100, got 0"),
        (lambda s: s.cluster_items("image", 0, limit=101), InvalidArgument, "limit", "got 101"),
        (lambda s: s.cluster_items("image", 0, offset=-1), InvalidArgument, "offset", "got -1"),
    ],
)
def test_map_errors_name_the_field(service, call, error, field, match):
    with pytest.raises(error, match=re.escape(match)) as err:
        call(service)
    assert type(err.value) is error and err.value.field == field


def test_clusters_view_names_and_representatives(service, tiny_bundle):
    view = service.clusters("image")
    summaries = tiny_bundle.spaces["image"].clusters()
    assert (view.method, view.methods) == (None, ["kmeans"]) and len(view.clusters) == len(summaries)
    for cluster, summary in zip(view.clusters, summaries):
        assert (cluster.method, cluster.cluster, cluster.size, cluster.name) == (
            summary.method, summary.cluster, summary.size, summary.name)
        assert [r.id for r in cluster.representatives] == list(summary.representative_ids)
        first = cluster.representatives[0]
        assert first.title == tiny_bundle.items.get(first.id).title and first.image_url == f"/v1/items/{first.id}/image"
    assert service.clusters("image", "kmeans") == view.model_copy(update={"method": "kmeans"})


def stored_order(space, method: str, cluster: int) -> list[str]:
    """The cluster's ids sorted by the member ranks the build stored."""
    _, _, labels, ranks = space.projections()
    members = np.flatnonzero(labels[method] == cluster)
    return [space.ids[r] for r in members[np.argsort(ranks[method][members])]]


def pages_of(service, space: str, cluster: int, size: int, limit: int = 3) -> list:
    """Every page of a cluster's items, and the empty one past its end."""
    pages = [service.cluster_items(space, cluster, limit=limit, offset=o) for o in range(0, size + limit, limit)]
    assert pages[-1].items == [] and pages[1].offset == limit
    return pages


def listed_by_pages(service, space: str, cluster: int, size: int, limit: int = 3) -> list[str]:
    return [item.id for page in pages_of(service, space, cluster, size, limit) for item in page.items]


def test_cluster_items_page_through_the_stored_order_representatives_first(service, tiny_bundle):
    space = tiny_bundle.spaces["image"]
    labels = space.projections().labels["kmeans"]
    for summary in space.clusters():
        members = {i for i, label in zip(space.ids, labels) if label == summary.cluster}
        pages = pages_of(service, "image", summary.cluster, summary.size)
        listed = [item.id for page in pages for item in page.items]
        assert sorted(listed) == sorted(members) and len(listed) == summary.size
        # Exactly the build's order: the server re-ranks nothing, so no processor can reorder it.
        assert listed == stored_order(space, "kmeans", summary.cluster)
        assert listed[: len(summary.representative_ids)] == list(summary.representative_ids)
        assert {(p.total, p.name, p.method, p.cluster) for p in pages} == {
            (summary.size, summary.name, "kmeans", summary.cluster)}


def _rewrite_member_ranks(path, method: str, ranks: np.ndarray | None) -> None:
    """projections.parquet with its member_rank_<method> column replaced (None: removed)."""
    import pyarrow as pa

    table = pq.read_table(path)
    column = table.schema.get_field_index(f"member_rank_{method}")
    table = table.remove_column(column)
    if ranks is not None:
        table = table.add_column(column, f"member_rank_{method}", pa.array(ranks, pa.int32()))
    pq.write_table(table, path)


def test_the_server_serves_whatever_order_the_bundle_stores(bundle_copy):
    root, paths = bundle_copy
    space = open_bundle(root).spaces["image"]
    _, _, labels, ranks = space.projections()
    sizes = np.bincount(labels["kmeans"])
    # The least central member first: a server that re-ranked would not follow.
    _rewrite_member_ranks(paths.projections("image"), "kmeans", sizes[labels["kmeans"]] - 1 - ranks["kmeans"])
    bundle = open_bundle(root)
    service = service_over(bundle)
    for summary in bundle.spaces["image"].clusters():
        expected = stored_order(space, "kmeans", summary.cluster)[::-1]
        assert listed_by_pages(service, "image", summary.cluster, summary.size) == expected


def test_versions_built_before_member_ranks_list_the_representatives_then_row_order(bundle_copy):
    root, paths = bundle_copy
    _rewrite_member_ranks(paths.projections("image"), "kmeans", None)
    bundle = open_bundle(root)
    space = bundle.spaces["image"]
    assert space.projections().member_ranks == {} and list(space.projections().labels) == ["kmeans"]
    service = service_over(bundle)
    labels = space.projections().labels["kmeans"]
    for summary in space.clusters():
        head = list(summary.representative_ids)
        rest = [i for i, label in zip(space.ids, labels) if label == summary.cluster and i not in head]
        assert listed_by_pages(service, "image", summary.cluster, summary.size) == head + rest


@pytest.mark.parametrize("change, match", [
    (lambda r: np.where(r == 1, 0, r), "row .* has 0"),  # two members ranked 0
    (lambda r: r + 1, "0..size-1"),                      # no member ranked 0
    (lambda r: -r, "0..size-1"),
])
def test_member_ranks_that_are_not_an_order_are_refused_naming_the_column(bundle_copy, change, match):
    root, paths = bundle_copy
    space = open_bundle(root).spaces["image"]
    _rewrite_member_ranks(paths.projections("image"), "kmeans", change(space.projections().member_ranks["kmeans"]))
    with pytest.raises(InvalidFieldError, match=match) as err:
        open_bundle(root).spaces["image"].projections()
    assert err.value.field == "member_rank_kmeans" and err.value.path == str(paths.projections("image"))

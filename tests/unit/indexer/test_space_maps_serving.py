"""Maps after the build: the bundle reading them and the service answering projections, clusters and their items."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import loaded_once_by_racing_threads
from tests.unit.indexer._space_maps_helpers import SPACES, open_bundle
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.maps import InvalidFieldError
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.errors import InvalidArgument, NotFound


def service_over(bundle: Bundle, **settings) -> SearchService:
    holder = BundleHolder()
    holder.swap(bundle)
    return SearchService(holder, Settings(**settings))


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

"""The gRPC transport: every RPC answers what REST answers, messages match their views, health,
reflection, and the generated code is not stale."""
from __future__ import annotations

import importlib.metadata
import json
import re
import shutil

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.unit.search_api import _grpc_helpers
from tests.unit.search_api._grpc_helpers import IMAGE, struct
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.grpc import codegen, serve_grpc
from vitrina.search_api.grpc.convert import projection_chunks, projection_message, to_message, to_view
from vitrina.search_api.grpc.server import SERVICE_NAME
from vitrina.search_api.models import (
    BundleView,
    ClusterItemsView,
    ClustersView,
    ClusterView,
    ColumnsView,
    EncoderView,
    Hit,
    Hits,
    ItemCard,
    ItemView,
    MapItem,
    MapPoint,
    OutliersView,
    OutlierView,
    ProjectionColumns,
    ProjectionView,
    SpaceView,
)
from vitrina.v1 import bundle_pb2, items_pb2, maps_pb2, search_pb2, vitrina_pb2_grpc, webmap_pb2

# tests/unit/test_field_errors.py imports FakeContext from this module.
FakeContext = _grpc_helpers.FakeContext


def multipart(data: bytes, content_type: str = "image/png", **form) -> dict:
    return {"files": {"file": ("q.png", data, content_type)}, "data": form}


FILTER = {"year": {"gte": 1950, "lt": 1990}}

# rpc, request, (REST method, path, keyword arguments of TestClient.request), view
SAME_ANSWERS = [
    ("GetItem", items_pb2.GetItemRequest(item_id="animals-00"), ("GET", "/v1/items/animals-00", {}), ItemView),
    ("GetNeighbours", items_pb2.GetNeighboursRequest(item_id="animals-00"),
     ("GET", "/v1/items/animals-00/neighbours", {}), Hits),
    ("GetNeighbours", items_pb2.GetNeighboursRequest(item_id="plants-03", space="text", k=8, filter=struct(FILTER)),
     ("GET", "/v1/items/plants-03/neighbours", {"params": {"space": "text", "k": 8, "filter": json.dumps(FILTER)}}), Hits),
    ("SearchText", search_pb2.SearchTextRequest(query="car"), ("POST", "/v1/search/text", {"json": {"query": "car"}}), Hits),
    ("SearchText", search_pb2.SearchTextRequest(query="car", k=6, filter=struct({"category": "plants"})),
     ("POST", "/v1/search/text", {"json": {"query": "car", "k": 6, "filter": {"category": "plants"}}}), Hits),
    ("SearchImage", search_pb2.SearchImageRequest(file=IMAGE, content_type="image/png", k=4, filter=struct({"tags": "new"})),
     ("POST", "/v1/search/image", multipart(IMAGE, k="4", filter='{"tags": "new"}')), Hits),
    ("GetProjection", maps_pb2.GetProjectionRequest(space="image"), ("GET", "/v1/spaces/image/projection", {}), ProjectionView),
    ("GetProjection", maps_pb2.GetProjectionRequest(space="text", method="pca", clustering="kmeans"),
     ("GET", "/v1/spaces/text/projection", {"params": {"method": "pca", "clustering": "kmeans"}}), ProjectionView),
    ("ListClusters", maps_pb2.ListClustersRequest(space="image"), ("GET", "/v1/spaces/image/clusters", {}), ClustersView),
    ("ListClusters", maps_pb2.ListClustersRequest(space="text", method="kmeans"),
     ("GET", "/v1/spaces/text/clusters", {"params": {"method": "kmeans"}}), ClustersView),
    ("ListClusterItems", maps_pb2.ListClusterItemsRequest(space="image", cluster=0),
     ("GET", "/v1/spaces/image/clusters/0/items", {}), ClusterItemsView),
    ("ListClusterItems", maps_pb2.ListClusterItemsRequest(space="text", cluster=1, method="kmeans", limit=2, offset=1),
     ("GET", "/v1/spaces/text/clusters/1/items", {"params": {"method": "kmeans", "limit": 2, "offset": 1}}),
     ClusterItemsView),
    ("ListOutliers", maps_pb2.ListOutliersRequest(space="image"), ("GET", "/v1/spaces/image/outliers", {}), OutliersView),
    ("ListOutliers", maps_pb2.ListOutliersRequest(space="text", attribute="category", limit=5),
     ("GET", "/v1/spaces/text/outliers", {"params": {"attribute": "category", "limit": 5}}), OutliersView),
    ("GetBundle", bundle_pb2.GetBundleRequest(), ("GET", "/v1/bundle", {}), BundleView),
    ("ListColumns", webmap_pb2.ListColumnsRequest(), ("GET", "/v1/columns", {}), ColumnsView),
    ("GetItemCard", webmap_pb2.GetItemCardRequest(item_id="plants-04", words=2),
     ("GET", "/v1/items/plants-04/card", {"params": {"words": 2}}), ItemCard),
]


@pytest.mark.parametrize("rpc, request_message, http, view", SAME_ANSWERS, ids=[c[0] for c in SAME_ANSWERS])
def test_every_rpc_answers_what_rest_answers(stub, rest, rpc, request_message, http, view):
    method, path, kwargs = http
    response = rest.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    reply = getattr(stub, rpc)(request_message, timeout=10)
    # Through the view, so a timestamp's spelling does not count; ints stay ints (metadata).
    assert to_view(reply, view).model_dump(mode="json") == response.json()


def test_item_image_is_the_rest_thumbnail(stub, rest):
    response = rest.get("/v1/items/plants-02/image", params={"size": 16})
    reply = stub.GetItemImage(items_pb2.GetItemImageRequest(item_id="plants-02", size=16))
    assert (reply.content, reply.media_type, reply.etag) == (
        response.content, response.headers["content-type"], response.headers["etag"])
    default = stub.GetItemImage(items_pb2.GetItemImageRequest(item_id="plants-02"))
    assert default.content == rest.get("/v1/items/plants-02/image").content


def test_space_columns_are_the_rest_arrow_stream(stub, rest):
    request = webmap_pb2.GetSpaceColumnsRequest(space="text", names=["year", "tags"])
    joined = b"".join(chunk.data for chunk in stub.GetSpaceColumns(request))
    assert joined == rest.get("/v1/spaces/text/columns", params={"names": "year,tags"}).content


def test_map_image_is_the_rest_png(stub, rest):
    reply = stub.GetMapImage(webmap_pb2.GetMapImageRequest(space="image", colour="category", width=100, height=80))
    expected = rest.get("/v1/spaces/image/map.png", params={"colour": "category", "width": 100, "height": 80})
    assert (reply.content, reply.media_type) == (expected.content, "image/png")
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetMapImage(webmap_pb2.GetMapImageRequest(space="image", width=5))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details().startswith("width")


def test_export_is_the_rest_parquet(stub, rest):
    ids = ["plants-02", "animals-09"]
    reply = stub.ExportItems(webmap_pb2.ExportItemsRequest(ids=ids, space="image"))
    assert reply.parquet == rest.post("/v1/items/export", json={"ids": ids, "space": "image"}).content
    with pytest.raises(grpc.RpcError) as caught:
        stub.ExportItems(webmap_pb2.ExportItemsRequest(ids=[]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details().startswith("ids")


def test_projection_columns_are_the_rest_arrow_stream(stub, rest):
    import pyarrow as pa

    response = rest.get("/v1/spaces/image/projection", headers={"Accept": "application/vnd.apache.arrow.stream"})
    table = pa.ipc.open_stream(response.content).read_all()
    chunks = list(stub.GetProjectionColumns(maps_pb2.GetProjectionRequest(space="image")))
    assert len(chunks) == 1 and (chunks[0].header.method, chunks[0].header.clustering) == ("pca", "kmeans")
    assert not chunks[0].header.points
    rows = [{"id": i, "x": x, "y": y, "cluster": c} for i, x, y, c in zip(chunks[0].ids, chunks[0].x, chunks[0].y,
                                                                           chunks[0].cluster)]
    assert rows == table.to_pylist()


def test_projection_chunks_cover_every_row_once(rest):
    columns = rest.app.state.service.projection_columns("text")
    chunks = list(projection_chunks(columns, rows=7))
    assert [len(c.ids) for c in chunks] == [7] * 8 + [4]
    assert [i for c in chunks for i in c.ids] == columns.ids
    assert [v for c in chunks for v in c.cluster] == columns.labels.tolist()


VIEWS_AND_MESSAGES = [
    (ItemView, items_pb2.Item), (Hit, items_pb2.Hit), (Hits, items_pb2.Hits), (MapItem, maps_pb2.MapItem),
    (MapPoint, maps_pb2.MapPoint), (ProjectionView, maps_pb2.Projection), (ClusterView, maps_pb2.Cluster),
    (ClustersView, maps_pb2.Clusters), (ClusterItemsView, maps_pb2.ClusterItems), (OutlierView, maps_pb2.Outlier),
    (OutliersView, maps_pb2.Outliers), (EncoderView, bundle_pb2.Encoder), (SpaceView, bundle_pb2.Space),
    (BundleView, bundle_pb2.Bundle),
]


@pytest.mark.parametrize("view, message", VIEWS_AND_MESSAGES, ids=[v.__name__ for v, _ in VIEWS_AND_MESSAGES])
def test_messages_have_their_views_fields(view, message):
    """A field added to a view needs its proto field: the conversion goes by name."""
    assert list(view.model_fields) == [f.name for f in message.DESCRIPTOR.fields]


def test_views_round_trip_through_messages():
    outliers = OutliersView(bundle_version="v1", space="image", attribute=None, total=2, outliers=[
        OutlierView(id="a/b", attribute="category", label="vehicles", majority_label="plants", majority_share=0.8,
                    own_label_share=0.1, confidence=0.7, title="rose", image_url=None)])
    assert to_view(to_message(outliers, maps_pb2.Outliers), OutliersView) == outliers
    hits = Hits(bundle_version="v1", hits=[])
    assert to_view(to_message(hits, items_pb2.Hits), Hits) == hits
    unclustered = ProjectionColumns("v1", "image", "pca", ["pca"], None, [], ["a", "b"], np.ones((2, 2), np.float32), None)
    assert to_view(projection_message(unclustered), ProjectionView) == unclustered.view()


@pytest.fixture
def empty_server(tiny_bundle):
    """A server whose holder has no bundle yet; the test may swap one in."""
    holder = BundleHolder()
    server = serve_grpc(SearchService(holder, Settings()), 0)
    with grpc.insecure_channel(f"127.0.0.1:{server.bound_port}") as channel:
        yield holder, channel
    server.stop(None)


def health(channel, service: str = "") -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status


def test_no_bundle_is_unavailable_and_health_follows_the_holder(empty_server, tiny_bundle):
    holder, channel = empty_server
    stub = vitrina_pb2_grpc.VitrinaStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetBundle(bundle_pb2.GetBundleRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "no bundle is loaded" in info.value.details()
    assert health(channel) == health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING

    holder.swap(tiny_bundle)
    assert health(channel) == health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
    assert stub.GetBundle(bundle_pb2.GetBundleRequest(), timeout=10).version == tiny_bundle.version
    holder.clear()
    assert health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_serving(channel):
    assert health(channel) == health(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING


def test_reflection_describes_the_service(channel):
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    database = ProtoReflectionDescriptorDatabase(channel)
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= set(database.get_services())
    service = DescriptorPool(database).FindServiceByName(SERVICE_NAME)
    assert service.methods_by_name["SearchText"].output_type.full_name == "vitrina.v1.Hits"


# -- generated code and the CLI ----------------------------------------------------------------------


def generated_by() -> str:
    text = (codegen.ROOT / codegen.PACKAGE / "vitrina_pb2_grpc.py").read_text()
    return re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", text)[1]


@pytest.fixture
def same_grpc_tools():
    pytest.importorskip("grpc_tools")
    installed = importlib.metadata.version("grpcio-tools")
    if installed != generated_by():
        pytest.skip(f"grpcio-tools {installed} writes other bytes than {generated_by()}, which made the code")


def test_generated_code_is_not_stale(same_grpc_tools):
    assert codegen.stale_files() == [], "the code in vitrina/v1 is stale: run `make proto`"


def test_codegen_finds_edited_and_orphaned_files(same_grpc_tools, tmp_path):
    shutil.copytree(codegen.ROOT / codegen.PACKAGE, tmp_path, dirs_exist_ok=True)
    (tmp_path / "items_pb2.py").write_text("# edited\n")
    (tmp_path / "gone_pb2.py").write_text("# its .proto was deleted\n")
    assert codegen.stale_files(tmp_path) == ["gone_pb2.py", "items_pb2.py"]


def test_serve_cli_has_grpc_port():
    import typer
    from typer.testing import CliRunner

    from vitrina.search_api.cli import serve

    app = typer.Typer()
    app.command()(serve)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--grpc-port" in result.output


def test_batch_streams_are_the_rest_batches_and_the_single_answers(stub, rest):
    queries = ["car", "green tree", "a cat"]
    body = rest.post("/v1/search/text:batch", json={"queries": queries, "k": 4}).json()
    streamed = list(stub.SearchTextBatch(search_pb2.SearchTextBatchRequest(queries=queries, k=4), timeout=10))
    assert [to_view(m, Hits).model_dump(mode="json") for m in streamed] == body["results"]
    ids = ["plants-02", "animals-09"]
    body = rest.post("/v1/search/neighbours:batch", json={"item_ids": ids, "space": "text", "k": 3}).json()
    streamed = list(stub.GetNeighboursBatch(search_pb2.GetNeighboursBatchRequest(item_ids=ids, space="text", k=3)))
    assert [to_view(m, Hits).model_dump(mode="json") for m in streamed] == body["results"]
    for item_id, result in zip(ids, body["results"]):
        single = rest.get(f"/v1/items/{item_id}/neighbours", params={"space": "text", "k": 3}).json()
        assert [h["id"] for h in result["hits"]] == [h["id"] for h in single["hits"]]
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.GetNeighboursBatch(search_pb2.GetNeighboursBatchRequest(item_ids=["plants-02", "nope"])))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "nope" in caught.value.details()

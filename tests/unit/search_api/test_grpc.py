"""The gRPC transport: every RPC answers what REST answers, errors map to status codes,
deadlines, health, reflection, the two typed clients, and the generated code is not stale."""
from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.unit.search_api.test_rest import UPLOAD_LIMIT, make_client
from tests.unit.search_api.test_service import png_bytes
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import BadImage, InvalidArgument, NotFound, PayloadTooLarge, UnsupportedMedia
from vitrina.search_api.grpc import codegen, serve_grpc
from vitrina.search_api.grpc.convert import projection_chunks, projection_message, to_message, to_view
from vitrina.search_api.grpc.server import MESSAGE_SLACK, SERVICE_NAME
from vitrina.search_api.grpc.servicer import call
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


@pytest.fixture(scope="module")
def rest(tiny_bundle_root):
    with make_client(tiny_bundle_root, max_k=50, max_upload_bytes=UPLOAD_LIMIT) as client:
        yield client


@pytest.fixture(scope="module")
def channel(rest):
    # Over the REST app's own SearchService, as `vitrina serve --grpc-port` runs them.
    server = serve_grpc(rest.app.state.service, 0)
    with grpc.insecure_channel(f"127.0.0.1:{server.bound_port}") as channel:
        yield channel
    server.stop(None)


@pytest.fixture(scope="module")
def stub(channel):
    return vitrina_pb2_grpc.VitrinaStub(channel)


@pytest.fixture(scope="module")
def clients(rest, channel):
    return RestClient(http=rest), GrpcClient(channel=channel)


def struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def multipart(data: bytes, content_type: str = "image/png", **form) -> dict:
    return {"files": {"file": ("q.png", data, content_type)}, "data": form}


IMAGE = png_bytes((40, 60, 200))
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


# -- errors --------------------------------------------------------------------------------------

# rpc, request, status, field, REST error code, message
STATUS_CASES = [
    ("GetItem", items_pb2.GetItemRequest(item_id="nope"), "NOT_FOUND", None, "not_found", "item 'nope' not found"),
    ("GetItemImage", items_pb2.GetItemImageRequest(item_id="nope"), "NOT_FOUND", None, "not_found", "'nope'"),
    ("GetItemImage", items_pb2.GetItemImageRequest(item_id="plants-02", size=15), "INVALID_ARGUMENT", "size",
     "invalid_argument", "size: size must be between 16 and 1024"),
    ("GetNeighbours", items_pb2.GetNeighboursRequest(item_id="animals-00", k=0), "INVALID_ARGUMENT", "k",
     "invalid_argument", "k: k must be between 1 and 50, got 0"),
    ("GetNeighbours", items_pb2.GetNeighboursRequest(item_id="animals-00", space="nope"), "INVALID_ARGUMENT", "space",
     "invalid_argument", "space: unknown space 'nope'"),
    ("GetNeighbours", items_pb2.GetNeighboursRequest(item_id="animals-00", filter=struct({"colour": "red"})),
     "INVALID_ARGUMENT", "filter", "invalid_argument", "unknown metadata key 'colour'"),
    ("SearchText", search_pb2.SearchTextRequest(query="  "), "INVALID_ARGUMENT", "query", "invalid_argument",
     "query: query is empty"),
    ("SearchImage", search_pb2.SearchImageRequest(file=b"garbage"), "INVALID_ARGUMENT", "file", "bad_image",
     "file: cannot decode"),
    ("SearchImage", search_pb2.SearchImageRequest(file=b"hello", content_type="text/plain"), "INVALID_ARGUMENT",
     "file", "unsupported_media", "content type 'text/plain'"),
    ("SearchImage", search_pb2.SearchImageRequest(file=b"\0" * (UPLOAD_LIMIT + 1)), "RESOURCE_EXHAUSTED", None,
     "payload_too_large", "over the limit of 4096 bytes"),
    ("GetProjection", maps_pb2.GetProjectionRequest(space="image", method="tsne"), "INVALID_ARGUMENT", "method",
     "invalid_argument", "space 'image' has: pca"),
    ("GetProjection", maps_pb2.GetProjectionRequest(space="nope"), "NOT_FOUND", None, "not_found", "space 'nope'"),
    ("ListClusters", maps_pb2.ListClustersRequest(space="text", method="dbscan"), "INVALID_ARGUMENT", "method",
     "invalid_argument", "unknown clustering 'dbscan'"),
    ("ListClusterItems", maps_pb2.ListClusterItemsRequest(space="image", cluster=99), "NOT_FOUND", None, "not_found",
     "kmeans cluster '99' not found"),
    ("ListClusterItems", maps_pb2.ListClusterItemsRequest(space="text", cluster=0, limit=0), "INVALID_ARGUMENT",
     "limit", "invalid_argument", "limit: limit must be between 1 and 1000"),
    ("ListClusterItems", maps_pb2.ListClusterItemsRequest(space="text", cluster=0, offset=-1), "INVALID_ARGUMENT",
     "offset", "invalid_argument", "got -1"),
    ("ListOutliers", maps_pb2.ListOutliersRequest(space="image", attribute="colour"), "INVALID_ARGUMENT",
     "attribute", "invalid_argument", "unknown attribute 'colour'"),
]


@pytest.mark.parametrize("rpc, request_message, status, field, code, match", STATUS_CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in STATUS_CASES])
def test_service_errors_map_to_status_codes(stub, rpc, request_message, status, field, code, match):
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, rpc)(request_message, timeout=10)
    error = info.value
    assert error.code() == grpc.StatusCode[status]
    assert match in error.details() and (field is None or error.details().startswith(f"{field}: "))
    trailing = dict(error.trailing_metadata())
    assert trailing["vitrina-error-code"] == code and trailing.get("vitrina-error-field") == field


def test_message_over_the_grpc_limit_is_refused_unread(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.SearchImage(search_pb2.SearchImageRequest(file=b"\0" * (UPLOAD_LIMIT + MESSAGE_SLACK + 1)))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


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


# -- deadlines -----------------------------------------------------------------------------------


class FakeContext:
    def __init__(self, remaining: float):
        self.remaining = remaining

    def time_remaining(self) -> float:
        return self.remaining

    def abort(self, code, details):
        raise RuntimeError(code, details)


def test_expired_deadline_skips_the_service_call():
    calls = []
    with pytest.raises(RuntimeError) as info:
        call(FakeContext(0.0), lambda: calls.append(1))
    assert info.value.args[0] == grpc.StatusCode.DEADLINE_EXCEEDED and calls == []


def test_unexpected_failure_is_internal_without_its_text():
    def broken():
        raise KeyError("secret detail")

    with pytest.raises(RuntimeError) as info:
        call(FakeContext(10.0), broken)
    code, details = info.value.args
    assert code == grpc.StatusCode.INTERNAL and "secret" not in details


def test_deadline_exceeded_over_the_wire(tiny_bundle, monkeypatch):
    holder = BundleHolder()
    holder.swap(tiny_bundle)
    service = SearchService(holder, Settings())
    started = threading.Event()

    def slow_bundle_info():
        started.set()
        time.sleep(0.5)
        return SearchService.bundle_info(service)

    monkeypatch.setattr(service, "bundle_info", slow_bundle_info)
    server = serve_grpc(service, 0)
    try:
        with GrpcClient(f"127.0.0.1:{server.bound_port}", timeout=0.2) as client:
            with pytest.raises(grpc.RpcError) as info:  # no service error: the RpcError itself
                client.bundle()
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and started.is_set()
    finally:
        server.stop(None)


# -- the typed clients -----------------------------------------------------------------------------

CLIENT_CALLS = [
    ("get_item", {"item_id": "vehicles-03"}),
    ("thumbnail", {"item_id": "animals-01", "size": 32}),
    ("neighbours", {"item_id": "animals-00", "space": "text", "k": 5, "filter": {"tags": "old"}}),
    ("search_text", {"query": "red car", "k": 3}),
    ("search_image", {"image": IMAGE, "k": 4, "filter": {"year": {"gte": 1950}}, "content_type": "image/png"}),
    ("search_image", {"image": IMAGE}),
    ("projection", {"space": "text"}),
    ("clusters", {"space": "image", "method": "kmeans"}),
    ("cluster_items", {"space": "image", "cluster": 1, "limit": 3}),
    ("outliers", {"space": "image", "attribute": "category"}),
    ("bundle", {}),
    ("columns", {}),
    ("item_card", {"item_id": "vehicles-07"}),
]


@pytest.mark.parametrize("operation, args", CLIENT_CALLS, ids=[c[0] for c in CLIENT_CALLS])
def test_both_clients_give_equal_results(clients, operation, args):
    over_rest, over_grpc = (getattr(client, operation)(**args) for client in clients)
    assert over_rest == over_grpc


ERROR_CALLS = [
    ("get_item", {"item_id": "nope"}, NotFound, None),
    ("neighbours", {"item_id": "animals-00", "k": 51}, InvalidArgument, "k"),
    ("search_text", {"query": "car", "filter": {"year": {"near": 1}}}, InvalidArgument, "filter"),
    ("search_image", {"image": b"garbage"}, BadImage, "file"),
    ("search_image", {"image": b"text", "content_type": "text/plain"}, UnsupportedMedia, "file"),
    ("search_image", {"image": b"\0" * (UPLOAD_LIMIT + 1)}, PayloadTooLarge, None),
    ("cluster_items", {"space": "image", "cluster": 0, "limit": 0}, InvalidArgument, "limit"),
    ("thumbnail", {"item_id": "animals-01", "size": 5000}, InvalidArgument, "size"),
]


@pytest.mark.parametrize("operation, args, error_type, field", ERROR_CALLS, ids=[c[0] for c in ERROR_CALLS])
def test_both_clients_raise_the_same_typed_error(clients, operation, args, error_type, field):
    errors = []
    for client in clients:
        with pytest.raises(error_type) as info:
            getattr(client, operation)(**args)
        errors.append(info.value)
    # PIL's message names the object it read from; that address is not the transport's doing.
    messages = [re.sub(r" at 0x[0-9a-f]+", "", e.message) for e in errors]
    assert [e.field for e in errors] == [field, field] and messages[0] == messages[1]


def test_clients_have_the_same_methods():
    public = lambda cls: {name for name in dir(cls) if not name.startswith("_")}  # noqa: E731
    assert public(RestClient) == public(GrpcClient) >= {
        "get_item", "neighbours", "search_text", "search_image", "projection", "clusters", "cluster_items",
        "outliers", "bundle"}


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


def test_every_error_has_a_grpc_status():
    from vitrina.search_api.errors import ERROR_TABLE

    assert all(isinstance(grpc.StatusCode[spec.grpc_status], grpc.StatusCode) for spec in ERROR_TABLE.values())


def test_both_clients_learn_when_to_retry(rest, clients, monkeypatch):
    from vitrina.search_api import errors

    if not hasattr(errors, "TooManyRequests"):
        pytest.skip("no error with a retry time in this checkout")

    def full(*args, **kwargs):
        raise errors.TooManyRequests("the queue is full", retry_after_s=3)

    monkeypatch.setattr(rest.app.state.service, "bundle_info", full)
    for client in clients:
        with pytest.raises(errors.TooManyRequests) as info:
            client.bundle()
        assert (info.value.message, info.value.retry_after_s) == ("the queue is full", 3)

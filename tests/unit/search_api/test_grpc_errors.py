"""gRPC errors: service errors map to status codes and trailers, message limits, deadlines."""
from __future__ import annotations

import threading
import time

import grpc
import pytest

from tests.unit.search_api._grpc_helpers import FakeContext, struct
from tests.unit.search_api._rest_helpers import UPLOAD_LIMIT
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.client import GrpcClient
from vitrina.search_api.grpc import serve_grpc
from vitrina.search_api.grpc.server import MESSAGE_SLACK
from vitrina.search_api.grpc.servicer import call
from vitrina.v1 import items_pb2, maps_pb2, search_pb2


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


# -- deadlines -----------------------------------------------------------------------------------


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


def test_every_error_has_a_grpc_status():
    from vitrina.search_api.errors import ERROR_TABLE

    assert all(isinstance(grpc.StatusCode[spec.grpc_status], grpc.StatusCode) for spec in ERROR_TABLE.values())

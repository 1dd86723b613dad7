"""The two typed clients, REST and gRPC: equal results, the same typed errors, the same methods."""
from __future__ import annotations

import re

import pytest

from tests.unit.search_api._grpc_helpers import IMAGE
from tests.unit.search_api._rest_helpers import UPLOAD_LIMIT
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import BadImage, InvalidArgument, NotFound, PayloadTooLarge, UnsupportedMedia


@pytest.fixture(scope="module")
def clients(rest, channel):
    return RestClient(http=rest), GrpcClient(channel=channel)


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

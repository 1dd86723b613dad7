"""Fixtures shared by the search_api test modules: the service, the REST and gRPC servers over the
tiny bundle, and a collection with two versions for the admin tests."""
from __future__ import annotations

import shutil

import grpc
import pytest

from tests.conftest import build_tiny_bundle, catalogue_without
from tests.unit.search_api._admin_helpers import set_current
from tests.unit.search_api._rest_helpers import UPLOAD_LIMIT, make_client
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.grpc import serve_grpc
from vitrina.v1 import vitrina_pb2_grpc

# -- the service (test_service*.py) ----------------------------------------------------------


@pytest.fixture(scope="module")
def holder(tiny_bundle) -> BundleHolder:
    holder = BundleHolder()
    holder.swap(tiny_bundle)
    return holder


@pytest.fixture(scope="module")
def service(holder) -> SearchService:
    return SearchService(holder, Settings(max_k=50, max_query_chars=40, max_upload_bytes=4096, max_image_pixels=10_000))


# -- REST (test_rest*.py) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tiny_bundle_root):
    with make_client(tiny_bundle_root, max_k=50, max_upload_bytes=UPLOAD_LIMIT) as client:
        yield client


# -- gRPC beside REST (test_grpc*.py) --------------------------------------------------------------


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


# -- two versions of one collection (test_admin_*.py) ------------------------------------------------

# Items whose text shares the word "cat" with animals-00: without them its neighbours change.
CATS = {"animals-05", "animals-10", "animals-15"}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, tiny_bundle_root, tiny_catalogue):
    """A private copy of the tiny collection with a second version (the cats dropped); CURRENT
    names the second. Returns (root, first, second)."""
    root = tmp_path_factory.mktemp("two-versions")
    shutil.copytree(tiny_bundle_root, root, dirs_exist_ok=True)
    paths = CollectionPaths.of(root, "tiny")
    first = paths.current()
    build_tiny_bundle(root, catalogue_without(tmp_path_factory.mktemp("cat") / "catalogue", tiny_catalogue, CATS))
    second = paths.current()
    assert first != second
    return root, first, second


@pytest.fixture
def at_first(two_versions):
    """Each test starts with CURRENT on the first version and puts it back on the second after."""
    root, first, second = two_versions
    set_current(root, first)
    yield root, first, second
    set_current(root, second)

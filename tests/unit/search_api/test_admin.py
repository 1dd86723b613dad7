"""Operating the server: hot reload, API keys, CORS, request timeouts, metrics and access logs,
on both transports over one service (as `vitrina serve --grpc-port` runs them)."""
from __future__ import annotations

import gc
import json
import logging
import shutil
import socket
import threading
import time
import weakref
from contextlib import contextmanager

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import build_tiny_bundle, catalogue_without
from tests.fakes import FakeFactory
from tests.unit.search_api.test_service import png_bytes
from vitrina.schemas.bundle_layout import CollectionPaths, write_atomic
from vitrina.search_api import Settings, create_app
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from vitrina.search_api.grpc import serve_grpc
from vitrina.search_api.grpc.server import SERVICE
from vitrina.search_api.grpc.servicer import VitrinaServicer
from vitrina.search_api.observability import operation_of
from vitrina.search_api.rest.routes import API
from vitrina.v1 import admin_pb2, items_pb2, vitrina_pb2_grpc

KEY = "s3cret-key"
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


@contextmanager
def serving(root, **settings):
    """Both transports over one app's service, started; yields (app, rest TestClient, grpc channel)."""
    app = create_app(Settings(bundles_root=root, collection="tiny", **settings), encoder_factory=FakeFactory())
    with TestClient(app) as rest:
        server = serve_grpc(app.state.service, 0)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{server.bound_port}") as channel:
                yield app, rest, channel
        finally:
            server.stop(None)


def set_current(root, version: str) -> None:
    write_atomic(CollectionPaths.of(root, "tiny").current_file, version + "\n")


@pytest.fixture
def at_first(two_versions):
    """Each test starts with CURRENT on the first version and puts it back on the second after."""
    root, first, second = two_versions
    set_current(root, first)
    yield root, first, second
    set_current(root, second)


def hits_of(answer) -> list[str]:
    return [hit.id for hit in answer.hits]


def metric(rest, name: str, **labels) -> float:
    """A sample of /metrics (0 when absent)."""
    for family in text_string_to_metric_families(rest.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


# -- reload ------------------------------------------------------------------------------------


def test_reload_under_load_loses_no_request(at_first):
    """Threads hammer neighbours over REST and gRPC while the server flips between two versions:
    no request fails, and every answer is wholly one version's (its hits are that version's)."""
    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        service = app.state.service
        expected = {}
        for version in (first, second):
            service.reload(version)
            expected[version] = hits_of(service.neighbours("animals-00", "text", 5))
        assert expected[first] != expected[second]
        clients = [RestClient(http=rest, api_key=KEY), GrpcClient(channel=channel, api_key=KEY)]
        stop, answers, errors = threading.Event(), [], []

        def hammer(client) -> None:
            while not stop.is_set():
                try:
                    answers.append(client.neighbours("animals-00", space="text", k=5))
                except Exception as exc:  # noqa: BLE001 - any failure is what the test counts
                    errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(c,)) for c in clients for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            for i in range(6):  # the expectations left `second` served
                time.sleep(0.05)
                target = second if i % 2 else first
                reply = clients[i % 2].reload(target)
                assert reply.changed and reply.version == target
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert errors == []
        assert {a.bundle_version for a in answers} == {first, second}
        assert all(hits_of(a) == expected[a.bundle_version] for a in answers)


def test_reload_answers_and_failures(at_first, tmp_path):
    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        clients = [RestClient(http=rest, api_key=KEY), GrpcClient(channel=channel, api_key=KEY)]
        rest_client, grpc_client = clients
        same = rest_client.reload()
        assert (same.previous_version, same.version, same.changed, same.seconds) == (first, first, False, 0.0)

        set_current(root, second)
        moved = grpc_client.reload()  # no version: CURRENT's
        assert (moved.previous_version, moved.version, moved.changed) == (first, second, True) and moved.seconds > 0
        assert rest_client.bundle().version == second

        for client in clients:
            with pytest.raises(NotFound, match="version 'nope' not found"):
                client.reload("nope")
            with pytest.raises(InvalidArgument) as info:
                client.reload("../elsewhere")
            assert info.value.field == "version"

        broken = CollectionPaths.of(root, "tiny").version("broken").root
        broken.mkdir()
        try:
            (broken / "manifest.json").write_text("{not json")
            for client in clients:
                with pytest.raises(Unavailable, match=f"loading version 'broken' failed.*still serving '{second}'"):
                    client.reload("broken")
        finally:
            shutil.rmtree(broken)
        assert rest_client.bundle().version == second  # the failed load changed nothing
        assert rest.get("/readyz").json()["bundle_version"] == second
        # Unknown and broken versions, twice each; a malformed name is refused before any load.
        assert metric(rest, "vitrina_reloads_total", result="failed") == 4
        assert metric(rest, "vitrina_reloads_total", result="unchanged") == 1


def test_old_bundle_is_freed_once_its_last_request_ends(at_first, monkeypatch):
    """After a swap the old Bundle lives exactly as long as the requests that took it: nothing
    else (caches, metrics, the reloader) keeps it."""
    import vitrina.search_api.service as service_module

    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        service = app.state.service
        old = weakref.ref(service.holder.get())
        # Fill the caches keyed by version.
        assert rest.get("/v1/items/plants-02/image", params={"size": 16}).status_code == 200
        assert rest.get("/v1/spaces/image/clusters/0/items").status_code == 200
        assert len(service._thumbnails) == len(service._members) == 1

        inside, release = threading.Event(), threading.Event()
        real_hits = service_module._hits

        def held_hits(*args):
            inside.set()
            assert release.wait(10)
            return real_hits(*args)

        monkeypatch.setattr(service_module, "_hits", held_hits)
        in_flight = {}
        request = threading.Thread(target=lambda: in_flight.update(
            answer=rest.get("/v1/items/animals-00/neighbours", params={"space": "text", "k": 5})))
        request.start()
        assert inside.wait(10)
        monkeypatch.setattr(service_module, "_hits", real_hits)  # requests from now on are not held

        assert service.reload(second).changed
        assert rest.get("/v1/bundle").json()["version"] == second
        gc.collect()
        assert old() is not None, "the request in flight still answers from the old bundle"
        assert len(service._thumbnails) == len(service._members) == 0  # old-version entries went with the swap

        release.set()
        request.join(10)
        assert in_flight["answer"].json()["bundle_version"] == first
        deadline = time.monotonic() + 10
        while old() is not None and time.monotonic() < deadline:  # the reloader's reaper frees it, not this test
            time.sleep(0.05)
        assert old() is None, gc.get_referrers(old()) if old() is not None else ""


def test_watch_current_reloads_when_current_changes(at_first):
    root, first, second = at_first
    with serving(root, watch_current_s=0.05) as (app, rest, channel):
        assert rest.get("/v1/bundle").json()["version"] == first
        set_current(root, second)
        deadline = time.monotonic() + 10
        while app.state.holder.version != second and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rest.get("/v1/bundle").json()["version"] == second
        assert metric(rest, "vitrina_reloads_total", result="loaded") == 1


# -- API keys ------------------------------------------------------------------------------------


def reload_rpc(channel, key: str | None = None):
    stub = vitrina_pb2_grpc.VitrinaStub(channel)
    metadata = (("x-api-key", key),) if key is not None else None
    return stub.Reload(admin_pb2.ReloadRequest(), timeout=10, metadata=metadata)


def grpc_code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), dict(info.value.trailing_metadata())["vitrina-error-code"]


def test_admin_is_refused_while_no_key_is_configured(at_first):
    root, _, _ = at_first
    with serving(root) as (app, rest, channel):
        response = rest.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        assert "admin API disabled: configure an API key" in response.json()["error"]["message"]
        assert grpc_code(lambda: reload_rpc(channel, "anything")) == (grpc.StatusCode.PERMISSION_DENIED,
                                                                      "permission_denied")
        with pytest.raises(PermissionDenied):
            GrpcClient(channel=channel).reload()
        # Reads stay open.
        assert rest.get("/v1/items/animals-00").status_code == 200


def test_admin_needs_a_valid_key_on_both_transports(at_first):
    root, first, _ = at_first
    with serving(root, api_keys=[KEY, "other-key"]) as (app, rest, channel):
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            response = rest.post("/v1/admin/reload", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")
        for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}, {"x-api-key": "other-key"}):
            response = rest.post("/v1/admin/reload", headers=headers)
            assert response.status_code == 200 and response.json()["version"] == first, headers

        for key in (None, "wrong"):
            assert grpc_code(lambda: reload_rpc(channel, key)) == (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated")
        assert reload_rpc(channel, KEY).version == first
        for client in (RestClient(http=rest), GrpcClient(channel=channel), RestClient(http=rest, api_key="wrong"),
                       GrpcClient(channel=channel, api_key="wrong")):
            with pytest.raises(Unauthenticated):
                client.reload()
        for client in (RestClient(http=rest, api_key=KEY), GrpcClient(channel=channel, api_key=KEY)):
            assert client.reload().version == first
        # Reads need no key by default.
        assert GrpcClient(channel=channel).get_item("animals-00").id == "animals-00"


def test_reads_need_a_key_when_configured(at_first):
    root, _, _ = at_first
    with serving(root, api_keys=[KEY], require_key_for_reads=True) as (app, rest, channel):
        for path in ("/v1/items/animals-00", "/v1/items/animals-00/neighbours", "/v1/bundle",
                     "/v1/spaces/image/clusters"):
            response = rest.get(path)
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated", path
            assert rest.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
        # The key is checked before the service sees the request: an empty query is 401, not 422.
        assert rest.post("/v1/search/text", json={"query": ""}).status_code == 401
        for path in ("/healthz", "/readyz", "/metrics"):  # probes and scrapers carry no key
            assert rest.get(path).status_code == 200, path

        stub = vitrina_pb2_grpc.VitrinaStub(channel)
        request = items_pb2.GetItemRequest(item_id="animals-00")
        assert grpc_code(lambda: stub.GetItem(request, timeout=10)) == (grpc.StatusCode.UNAUTHENTICATED,
                                                                        "unauthenticated")
        assert stub.GetItem(request, timeout=10, metadata=(("x-api-key", KEY),)).id == "animals-00"
        assert stub.GetItem(request, timeout=10, metadata=(("authorization", f"Bearer {KEY}"),)).id == "animals-00"
        with pytest.raises(Unauthenticated):
            RestClient(http=rest).neighbours("animals-00")
        assert GrpcClient(channel=channel, api_key=KEY).neighbours("animals-00").hits


def test_the_web_maps_key_cookie_opens_reads_and_nothing_else(at_first):
    from urllib.parse import quote

    root, _, _ = at_first
    with serving(root, api_keys=[KEY], require_key_for_reads=True) as (app, rest, channel):
        cookie = {"Cookie": f"vitrina_key={quote(KEY)}"}
        # What an <img> of the map fetches: no header can be set there, the page's cookie goes along.
        assert rest.get("/v1/items/animals-00/image?size=64", headers=cookie).status_code == 200
        assert rest.get("/v1/items/animals-00", headers=cookie).status_code == 200
        assert rest.get("/v1/items/animals-00", headers={"Cookie": "vitrina_key=wrong"}).status_code == 401
        # A cross-site form could send the cookie: it never authorises an admin call or a POST.
        assert rest.post("/v1/admin/reload", json={}, headers=cookie).status_code == 401
        assert rest.post("/v1/search/text", json={"query": "bird"}, headers=cookie).status_code == 401


def test_require_key_for_reads_without_keys_is_refused_at_startup():
    with pytest.raises(ValueError, match="needs at least one API key"):
        Settings(require_key_for_reads=True)


def test_keys_from_the_environment_and_never_in_the_repr():
    settings = Settings.from_env({"VITRINA_API_KEYS": f" {KEY}, other ,", "VITRINA_CORS_ORIGINS": "https://a.example"})
    assert settings.api_keys == {KEY, "other"} and settings.cors_origins == ("https://a.example",)
    assert KEY not in repr(settings)


# -- CORS, limits, timeouts -------------------------------------------------------------------------


def test_cors_headers_only_when_configured(two_versions):
    root, _, _ = two_versions
    origin = "https://museum.example"
    with serving(root, cors_origins=[origin]) as (app, rest, channel):
        response = rest.get("/v1/items/animals-00", headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        error = rest.get("/v1/items/nope", headers={"Origin": origin})
        assert error.status_code == 404 and error.headers["access-control-allow-origin"] == origin
        preflight = rest.options("/v1/admin/reload", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"})
        assert preflight.status_code == 200 and "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        foreign = rest.get("/v1/items/animals-00", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in foreign.headers
    with serving(root) as (app, rest, channel):
        assert "access-control-allow-origin" not in rest.get("/v1/items/animals-00", headers={"Origin": origin}).headers


def test_limits_apply_on_both_transports(two_versions):
    root, _, _ = two_versions
    with serving(root, max_k=20, max_query_chars=30, max_upload_bytes=4096, max_image_pixels=50 * 50) as (
            app, rest, channel):
        big_picture = png_bytes((40, 60, 200), size=(60, 60))  # few bytes, too many pixels
        assert len(big_picture) < 4096
        for client in (RestClient(http=rest), GrpcClient(channel=channel)):
            with pytest.raises(InvalidArgument) as info:
                client.neighbours("animals-00", k=21)
            assert info.value.field == "k"
            with pytest.raises(InvalidArgument) as info:
                client.search_text("a red car " * 4)
            assert info.value.field == "query" and "more than the limit of 30" in info.value.message
            with pytest.raises(PayloadTooLarge, match="over the limit of 4096 bytes"):
                client.search_image(b"\0" * 4097)
            with pytest.raises(PayloadTooLarge, match="image too large"):
                client.search_image(big_picture, content_type="image/png")
            assert client.search_text("a red car", k=20).hits


@contextmanager
def uvicorn_serving(app):
    """A real server, so time is measured on the wire (TestClient returns only once the app does)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_request_timeout_answers_504_and_deadline_exceeded(at_first, monkeypatch):
    root, first, second = at_first
    app = create_app(Settings(bundles_root=root, collection="tiny", request_timeout_s=0.3, api_keys=[KEY]),
                     encoder_factory=FakeFactory())
    service = app.state.service
    real_info, real_load = service.bundle_info, service.holder.load

    def slow_info():
        time.sleep(1.0)
        return real_info()

    def slow_load(*args, **kwargs):
        time.sleep(0.5)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(service, "bundle_info", slow_info)
    monkeypatch.setattr(service.holder, "load", slow_load)
    with uvicorn_serving(app) as base_url:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            started = time.monotonic()
            response = http.get("/v1/bundle")
            took = time.monotonic() - started
            assert response.status_code == 504 and response.json()["error"]["code"] == "deadline_exceeded"
            assert took < 0.9, "answered at the timeout, not when the handler finished"
            assert http.get("/v1/items/animals-00").status_code == 200  # quick requests are untouched
            with pytest.raises(DeadlineExceeded):
                RestClient(http=http).bundle()
            # Admin calls are exempt: a reload cannot stop halfway, so it is not cut off.
            reply = http.post("/v1/admin/reload", json={"version": second}, headers={"X-API-Key": KEY})
            assert reply.status_code == 200 and reply.json()["changed"] is True and reply.json()["seconds"] > 0.3
            server = serve_grpc(service, 0)
            try:
                with GrpcClient(f"127.0.0.1:{server.bound_port}", timeout=None, api_key=KEY) as client:
                    with pytest.raises(DeadlineExceeded, match="request timeout of 0.3 s"):
                        client.bundle()  # no client deadline: the server's applies
                    assert client.reload(first).seconds > 0.3  # exempt here too
                    assert client.get_item("animals-00").id == "animals-00"
            finally:
                server.stop(None)
            assert metric(http, "vitrina_requests_total", transport="rest", operation="bundle_info", code="504") == 2
            assert metric(http, "vitrina_requests_total", transport="grpc", operation="bundle_info",
                          code="DEADLINE_EXCEEDED") == 1


# -- metrics and access logs --------------------------------------------------------------------------


def test_operations_are_named_alike_on_both_transports():
    rest_operations = {operation_of(route.endpoint) for router in API for route in router.routes}
    grpc_operations = {operation_of(getattr(VitrinaServicer, method.name)) for method in SERVICE.methods}
    assert None not in rest_operations and None not in grpc_operations
    assert rest_operations == grpc_operations


def test_metrics_count_per_transport_and_follow_reloads(at_first):
    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        other = create_app(Settings(bundles_root=root, collection="tiny"), encoder_factory=FakeFactory())
        assert other.state.service.metrics.registry is not app.state.service.metrics.registry
        assert metric(rest, "vitrina_bundle_info", collection="tiny", version=first) == 1
        labels = {"operation": "neighbours"}
        before = {t: metric(rest, "vitrina_requests_total", transport=t, **labels) for t in ("rest", "grpc")}
        RestClient(http=rest).neighbours("animals-00")
        RestClient(http=rest).neighbours("animals-00")
        GrpcClient(channel=channel).neighbours("animals-00")
        with pytest.raises(NotFound):
            GrpcClient(channel=channel).neighbours("nope")
        assert metric(rest, "vitrina_requests_total", transport="rest", code="200", **labels) == before["rest"] + 2
        assert metric(rest, "vitrina_requests_total", transport="grpc", code="OK", **labels) == before["grpc"] + 1
        assert metric(rest, "vitrina_requests_total", transport="grpc", code="NOT_FOUND", **labels) == 1
        assert metric(rest, "vitrina_request_seconds_count", transport="grpc", **labels) == before["grpc"] + 2
        assert metric(rest, "vitrina_explain_queue") == 0

        RestClient(http=rest, api_key=KEY).reload(second)
        assert metric(rest, "vitrina_bundle_info", collection="tiny", version=second) == 1
        assert metric(rest, "vitrina_bundle_info", collection="tiny", version=first) == 0
        assert metric(rest, "vitrina_reloads_total", result="loaded") == 1
        assert metric(rest, "vitrina_requests_total", transport="rest", operation="reload", code="200") == 1
        assert rest.get("/metrics").headers["content-type"].startswith("text/plain")


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_one_access_log_line_per_request(at_first):
    from vitrina.logs import JsonFormatter

    root, first, _ = at_first
    logger, handler = logging.getLogger("vitrina.access"), Records()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with serving(root) as (app, rest, channel):
            rest.get("/v1/items/animals-00/neighbours", params={"k": 3})
            rest.get("/v1/items/nope")
            GrpcClient(channel=channel).neighbours("animals-00", k=3)
            rest.get("/healthz")  # probes are not logged
            rest.get("/v2/nothing")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(JsonFormatter().format(r)) for r in handler.records]
    assert [(line["transport"], line["operation"], line["code"]) for line in lines] == [
        ("rest", "neighbours", "200"), ("rest", "get_item", "404"), ("grpc", "neighbours", "OK"),
        ("rest", "other", "404")]
    for line in lines[:3]:
        assert line["logger"] == "vitrina.access" and line["bundle_version"] == first
        assert isinstance(line["ms"], float) and line["ms"] >= 0 and line["client"]

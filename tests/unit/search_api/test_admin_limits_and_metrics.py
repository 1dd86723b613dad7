"""Limits and request timeouts on both transports, Prometheus metrics and the access log."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from tests.fakes import FakeFactory
from tests.unit.search_api._admin_helpers import KEY, metric, serving
from tests.unit.search_api._service_helpers import png_bytes
from vitrina.search_api import Settings, create_app
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import DeadlineExceeded, InvalidArgument, NotFound, PayloadTooLarge
from vitrina.search_api.grpc import serve_grpc
from vitrina.search_api.grpc.server import SERVICE
from vitrina.search_api.grpc.servicer import VitrinaServicer
from vitrina.search_api.observability import operation_of
from vitrina.search_api.rest.routes import API


# -- limits and timeouts ----------------------------------------------------------------------------


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

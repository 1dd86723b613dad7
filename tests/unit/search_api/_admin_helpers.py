"""Helpers shared by the admin tests: an API key, both transports over one service, CURRENT, /metrics."""
from __future__ import annotations

from contextlib import contextmanager

import grpc
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakeFactory
from vitrina.schemas.bundle_layout import CollectionPaths, write_atomic
from vitrina.search_api import Settings, create_app
from vitrina.search_api.grpc import serve_grpc

KEY = "s3cret-key"


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


def metric(rest, name: str, **labels) -> float:
    """A sample of /metrics (0 when absent)."""
    for family in text_string_to_metric_families(rest.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0

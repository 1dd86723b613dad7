"""REST test helpers shared by the search_api tests: an app's TestClient, the error envelope check."""
from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fakes import FakeFactory
from vitrina.search_api import Settings, create_app

UPLOAD_LIMIT = 4096


def make_client(bundles_root, collection="tiny", **settings) -> TestClient:
    settings = Settings(bundles_root=bundles_root, collection=collection, **settings)
    return TestClient(create_app(settings, encoder_factory=FakeFactory()))


def assert_error(response, status: int, code: str, field: str | None = None, match: str = ""):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert match in error["message"]


def categories(response) -> list[str]:
    return [h["metadata"]["category"] for h in response.json()["hits"]]

"""Who may call: API keys for admin and reads on both transports, the web map's key cookie, CORS."""
from __future__ import annotations

import grpc
import pytest

from tests.unit.search_api._admin_helpers import KEY, serving
from vitrina.search_api import Settings
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import PermissionDenied, Unauthenticated
from vitrina.v1 import admin_pb2, items_pb2, vitrina_pb2_grpc


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


# -- CORS -------------------------------------------------------------------------------------------


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

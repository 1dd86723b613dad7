"""The REST transport: health, bundle, items, neighbours and outliers routes, status codes, odd ids."""
from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.unit.search_api._rest_helpers import assert_error, categories, make_client
from tests.unit.search_api._service_helpers import (
    MISLABELLED_ID,
    NO_IMAGE_ID,
    ODD_IDS,
    build_mislabelled_bundle,
    build_odd_bundle,
)
from vitrina.search_api import BundleHolder, Settings, create_app


@pytest.fixture(scope="module")
def mislabelled_client(tmp_path_factory, tiny_catalogue):
    with make_client(build_mislabelled_bundle(tmp_path_factory.mktemp("mislabelled"), tiny_catalogue)) as client:
        yield client


@pytest.fixture(scope="module")
def odd_client(tmp_path_factory):
    with make_client(build_odd_bundle(tmp_path_factory.mktemp("odd"))) as client:
        yield client


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["id"] for h in response.json()["hits"]]


def neighbours(client, item_id="animals-00", **params):
    if isinstance(params.get("filter"), dict):
        params["filter"] = json.dumps(params["filter"])
    return client.get(f"/v1/items/{item_id}/neighbours", params=params)


# -- health and bundle ------------------------------------------------------------------------


def test_health_and_ready(client, tiny_bundle):
    assert client.get("/healthz").json() == {"status": "ok", "bundle_version": None}
    assert client.get("/readyz").json() == {"status": "ready", "bundle_version": tiny_bundle.version}


def test_bundle(client, tiny_bundle):
    body = client.get("/v1/bundle").json()
    assert body["version"] == tiny_bundle.version and body["items"] == 60
    assert [s["name"] for s in body["spaces"]] == ["image", "text"]
    assert body["spaces"][0]["index_factory"] and body["versions"] == [tiny_bundle.version]


def test_no_bundle_is_503(tmp_path):
    with make_client(tmp_path) as client:
        assert client.get("/healthz").status_code == 200
        assert_error(client.get("/readyz"), 503, "unavailable", match="no bundle is loaded")
        assert_error(client.post("/v1/search/text", json={"query": "car"}), 503, "unavailable")
        assert_error(client.get("/v1/items/a/neighbours"), 503, "unavailable")


def test_injected_holder_is_served_without_settings(tiny_bundle):
    holder = BundleHolder()
    holder.swap(tiny_bundle)
    with TestClient(create_app(Settings(), holder=holder)) as client:
        assert client.get("/v1/items/animals-01").json()["title"] == "dog 1"


# -- items --------------------------------------------------------------------------------------


def test_item(client):
    body = client.get("/v1/items/animals-00").json()
    assert body["metadata"] == {"category": "animals", "tags": [], "year": 1900}
    assert body["image_url"] == "/v1/items/animals-00/image"


@pytest.mark.parametrize("path", ["/v1/items/nope", "/v1/items/nope/image", "/v1/items/nope/neighbours"])
def test_unknown_item_is_404(client, path):
    assert_error(client.get(path), 404, "not_found", match="'nope' not found")


def test_thumbnail(client):
    response = client.get("/v1/items/plants-02/image", params={"size": 16})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "max-age=" in response.headers["cache-control"]
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (16, 16))
    again = client.get("/v1/items/plants-02/image?size=16", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("size", ["15", "1025"])
def test_thumbnail_size_out_of_range(client, size):
    assert_error(client.get(f"/v1/items/plants-02/image?size={size}"), 422, "invalid_argument", "size")


def test_thumbnail_size_not_a_number(client):
    assert_error(client.get("/v1/items/plants-02/image?size=big"), 422, "invalid_argument", "size")


# -- neighbours ------------------------------------------------------------------------------------


def test_neighbours_text_top5_animals(client):
    response = neighbours(client, space="text", k=5)
    assert len(ids(response)) == 5 and categories(response) == ["animals"] * 5
    assert "animals-00" not in ids(response)
    assert [h["rank"] for h in response.json()["hits"]] == [1, 2, 3, 4, 5]


def test_neighbours_image_mostly_animals(client):
    response = neighbours(client, space="image", k=10)
    assert categories(response).count("animals") >= 8


@pytest.mark.parametrize(
    "flt, check",
    [
        ({"category": "plants"}, lambda m: m["category"] == "plants"),
        ({"tags": "old"}, lambda m: "old" in m["tags"]),
        ({"year": {"gte": 1950, "lt": 1990}}, lambda m: 1950 <= m["year"] < 1990),
    ],
)
def test_neighbours_filters_return_exactly_k(client, flt, check):
    response = neighbours(client, k=8, filter=flt)
    hits = response.json()["hits"]
    assert len(hits) == 8 and all(check(h["metadata"]) for h in hits)


def test_filter_matching_fewer_than_k(client):
    response = neighbours(client, k=20, filter={"year": {"gte": 2010}})
    assert sorted(ids(response)) == ["vehicles-15", "vehicles-16", "vehicles-17", "vehicles-18", "vehicles-19"]


@pytest.mark.parametrize(
    "params, field, match",
    [
        ({"space": "nope"}, "space", "unknown space 'nope'; this bundle has: image, text"),
        ({"k": 0}, "k", "k must be between 1 and 50, got 0"),
        ({"k": 51}, "k", "got 51"),
        ({"k": "ten"}, "k", "valid integer"),
        ({"filter": "{not json"}, "filter", "not valid JSON"),
        ({"filter": {"colour": "red"}}, "filter", "unknown metadata key 'colour'"),
        ({"filter": {"year": {"near": 1900}}}, "filter", "unknown operator 'near'"),
        ({"filter": {"year": {"gte": "old"}}}, "filter", "takes a number"),
    ],
)
def test_neighbours_bad_arguments_are_422(client, params, field, match):
    assert_error(neighbours(client, **params), 422, "invalid_argument", field, match)


# -- label outliers ----------------------------------------------------------------------------------


def test_planted_mislabel_is_listed_first(mislabelled_client):
    response = mislabelled_client.get("/v1/spaces/image/outliers", params={"attribute": "category"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["space"], body["attribute"]) == ("image", "category")
    assert body["total"] >= 1 and len(body["outliers"]) == body["total"]
    first = body["outliers"][0]
    assert first["id"] == MISLABELLED_ID
    assert (first["attribute"], first["label"], first["majority_label"]) == ("category", "vehicles", "plants")
    assert first["majority_share"] >= 0.7 and first["confidence"] > 0
    assert first["title"] == "rose 7" and first["image_url"] == f"/v1/items/{MISLABELLED_ID}/image"
    assert set(first) == {"id", "attribute", "label", "majority_label", "majority_share", "own_label_share",
                          "confidence", "title", "image_url"}


def test_outliers_limit_and_default_attribute(mislabelled_client):
    body = mislabelled_client.get("/v1/spaces/image/outliers", params={"limit": 1}).json()
    assert body["attribute"] is None and [o["id"] for o in body["outliers"]] == [MISLABELLED_ID]


def test_outliers_of_a_clean_catalogue_are_empty(client, tiny_bundle):
    body = client.get("/v1/spaces/text/outliers", params={"attribute": "category"}).json()
    assert body == {"bundle_version": tiny_bundle.version, "space": "text", "attribute": "category", "total": 0,
                    "outliers": []}


def test_outliers_of_an_unknown_space_is_404(client):
    assert_error(client.get("/v1/spaces/nope/outliers"), 404, "not_found", match="space 'nope' not found")


@pytest.mark.parametrize(
    "params, field, match",
    [
        ({"attribute": "colour"}, "attribute", "unknown attribute 'colour'; label attributes of this bundle: category"),
        ({"attribute": "tags"}, "attribute", "unknown attribute 'tags'"),
        ({"limit": 0}, "limit", "limit must be between 1 and 1000, got 0"),
        ({"limit": 1001}, "limit", "got 1001"),
        ({"limit": "many"}, "limit", "valid integer"),
    ],
)
def test_outliers_bad_arguments_are_422(client, params, field, match):
    assert_error(client.get("/v1/spaces/image/outliers", params=params), 422, "invalid_argument", field, match)


def test_unknown_route_uses_the_envelope(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")


# -- ids with '/' ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("item_id", ODD_IDS)
def test_ids_with_slashes_route_to_item_image_and_neighbours(odd_client, item_id):
    path = quote(item_id, safe="/")  # what a client must do anyway: '#' would start a fragment
    item = odd_client.get(f"/v1/items/{path}").json()
    assert item["id"] == item_id
    thumb = odd_client.get(item["image_url"], params={"size": 16})
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (16, 8)
    response = odd_client.get(f"/v1/items/{path}/neighbours", params={"space": "text", "k": 3})
    assert len(ids(response)) == 3 and item_id not in ids(response)


def test_item_without_image(odd_client):
    assert odd_client.get(f"/v1/items/{NO_IMAGE_ID}").json()["image_url"] is None
    assert_error(odd_client.get(f"/v1/items/{NO_IMAGE_ID}/image"), 404, "not_found", match="image of item")
    response = odd_client.get(f"/v1/items/{NO_IMAGE_ID}/neighbours", params={"space": "image"})
    assert_error(response, 404, "not_found", match="item in space 'image'")


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {"/v1/items/{item_id}", "/v1/items/{item_id}/image", "/v1/items/{item_id}/neighbours",
                "/v1/search/text", "/v1/search/image", "/v1/bundle", "/healthz", "/readyz", "/v1/spaces/{space}/outliers",
                "/v1/spaces/{space}/projection", "/v1/spaces/{space}/clusters", "/v1/spaces/{space}/clusters/{cluster}/items"}
    assert expected <= set(paths)


def test_serve_cli_help():
    import typer
    from typer.testing import CliRunner

    from vitrina.search_api.cli import serve

    app = typer.Typer()
    app.command()(serve)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--bundles" in result.output and "--preload-encoders" in result.output
